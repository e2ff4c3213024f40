//! Parser unit tests (split out of parser.rs to keep it under 800 lines).

use super::*;

fn one(src: &str) -> StmtKind {
    let (script, errors) = parse("t", src);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(script.stmts.len(), 1);
    script.stmts.into_iter().next().expect("test").kind
}

fn err(src: &str) -> ScriptError {
    let (_, errors) = parse("t", src);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().expect("test")
}

#[test]
fn setup_statements() {
    match one("domain dom0 pv pages=4K privileged # c") {
        StmtKind::Domain { name, kind, pages, privileged } => {
            assert_eq!(name.node, "dom0");
            assert_eq!(kind.node, DomainKind::Pv);
            assert_eq!(pages.map(|p| p.node), Some(4096));
            assert!(privileged.is_some());
        }
        other => panic!("{other:?}"),
    }
    match one("process p in host mmap_base=0x7e0040000000 uid=1000") {
        StmtKind::Process { uid, mmap_base, brk, .. } => {
            assert_eq!(uid.map(|v| v.node), Some(1000));
            assert_eq!(mmap_base.map(|v| v.node), Some(0x7e00_4000_0000));
            assert_eq!(brk, None);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(one("machine frames=1M"), StmtKind::Machine { frames: Some(f), .. } if f.node == 1 << 20));
    match one("machine pkeys=off thp=never max_map_count=100 overcommit=always") {
        StmtKind::Machine { frames: None, pkeys, thp, max_map_count, overcommit } => {
            assert_eq!(pkeys.map(|p| p.node), Some(false));
            assert_eq!(thp.map(|t| t.node), Some(crate::kernel::config::ThpEnabled::Never));
            assert_eq!(max_map_count.map(|m| m.node), Some(100));
            assert_eq!(overcommit.map(|o| o.node), Some(crate::kernel::config::Overcommit::Always));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err("machine pkeys=maybe").message, "unknown value");
    assert_eq!(err("machine pkey=on").help.as_deref(), Some("did you mean `pkeys`?"));
    assert!(matches!(one("disk xvda in dom0 sectors=8"), StmtKind::Disk { sectors: Some(s), .. } if s.node == 8));
    assert!(matches!(one("file f in dom0"), StmtKind::File { size: None, .. }));
    assert!(matches!(one("check"), StmtKind::Check));
}

#[test]
fn xen_table_and_picture_shows() {
    assert!(matches!(one("show p2m d"), StmtKind::Show(Show::P2m { pfn: None, count: None, .. })));
    assert!(matches!(one("show p2m d 0x10 4"), StmtKind::Show(Show::P2m { pfn: Some(_), count: Some(_), .. })));
    assert!(matches!(one("show m2p 0x4002"), StmtKind::Show(Show::M2p { count: None, .. })));
    assert!(matches!(one("show override d"), StmtKind::Show(Show::Override(_))));
    assert!(matches!(one("show picture p"), StmtKind::Show(Show::Picture { range: None, .. })));
    assert!(matches!(one("show picture p a 8K"), StmtKind::Show(Show::Picture { range: Some(_), .. })));
    assert_eq!(err("show picture p a").message, "expected an expression at the end of the line");
    assert!(err("show m2p").message.starts_with("expected"));
}

#[test]
fn expect_violation_lines() {
    let names = |src: &str| match one(src) {
        StmtKind::ExpectViolations { names } => names.into_iter().map(|n| n.node).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(names("expect violation gup-wrong-page # why"), ["gup-wrong-page"]);
    assert_eq!(names("expect violations gup-wrong-page, dma-misdirected"), ["gup-wrong-page", "dma-misdirected"]);
    assert!(names("expect violations none").is_empty());
    assert_eq!(err("expect").message, "expected `violation`");
    assert_eq!(err("expect violation").message, "expected an invariant name or `none`");
    assert_eq!(err("expect nothing").span, Span::new(7, 14));
    assert!(err("expect violations none gup-wrong-page").message.contains("`none` cannot"));
}

#[test]
fn kernel_line_keeps_raw_words() {
    match one("kernel find-special-page unmap=immediate # x") {
        StmtKind::Kernel { variant, unmap } => {
            assert_eq!(variant.node, "find-special-page");
            assert_eq!(variant.span, Span::new(7, 24));
            let unmap = unmap.expect("test");
            assert_eq!(unmap.node, "immediate");
            assert_eq!(unmap.span, Span::new(31, 40));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err("kernel").message, "expected a kernel variant");
    assert_eq!(err("kernel m2p-override fast").span, Span::new(20, 24));
}

#[test]
fn actions() {
    match one("qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = ok") {
        StmtKind::Action(a) => {
            assert_eq!(a.actor.node, "qemu");
            assert_eq!(a.bind.map(|b| b.node), Some("off".to_owned()));
            assert_eq!(a.call.node, "ioctl");
            assert_eq!(a.args.len(), 4);
            assert!(matches!(a.expect.map(|e| e.kind), Some(ExpectedKind::Ok)));
        }
        other => panic!("{other:?}"),
    }
    match one("p: munlockall()") {
        StmtKind::Action(a) => {
            assert!(a.args.is_empty() && a.bind.is_none() && a.expect.is_none())
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn expectations() {
    let expect = |src: &str| match one(src) {
        StmtKind::Action(a) => a.expect.expect("test").kind,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        expect("p: store(a, \"x\") = SIGSEGV"),
        ExpectedKind::Signal { signal: Signal::Segv, code: None, addr: None }
    ));
    match expect("p: store(a + 4K, \"x\") = SIGSEGV:accerr@0x7e003ffff000") {
        ExpectedKind::Signal { signal, code, addr } => {
            assert_eq!(signal, Signal::Segv);
            assert_eq!(code.map(|c| c.node), Some(SigCode::Accerr));
            assert_eq!(addr.map(|a| a.kind), Some(ExprKind::Int(0x7e00_3fff_f000)));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(expect("p: touch(a, 1, r) = SIGBUS:adrerr"), ExpectedKind::Signal { signal: Signal::Bus, .. }));
    assert!(matches!(
        expect("p: mmap(0,0,0,0,0,0) = -EINVAL"),
        ExpectedKind::Value(Expr { kind: ExprKind::Neg(_), .. })
    ));
    assert!(matches!(
        expect("d: read_page(p, 0, 4) = x\"5a5a5a5a\""),
        ExpectedKind::Value(Expr { kind: ExprKind::Bytes(_), .. })
    ));
    assert_eq!(err("p: store(a, \"x\") = SIGSEGV:adrerr").message, "`adrerr` is not a SIGSEGV code");
    assert_eq!(err("p: store(a, \"x\") = SIGKILL").message, "unknown signal `SIGKILL`");
}

#[test]
fn shows() {
    match one("show pagemap p a + 4K 8K") {
        StmtKind::Show(Show::Pagemap { process, addr, len }) => {
            assert_eq!(process.node, "p");
            assert!(matches!(addr.kind, ExprKind::Binary { .. }));
            assert_eq!(len.kind, ExprKind::Int(8192));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(one("show grants domU"), StmtKind::Show(Show::Grants(_))));
    assert!(matches!(one("show log dom0"), StmtKind::Show(Show::Log(_))));
    assert!(matches!(one("show page domU p"), StmtKind::Show(Show::Page { .. })));
    assert!(err("show mpas p").help.expect("test").contains("maps"));
    assert!(err("show maps").message.contains("end of the line"));
}

#[test]
fn error_positions() {
    let e = err("p: mmap(NULL, 4096,, 0)");
    assert_eq!(e.span, Span::new(19, 20));
    assert_eq!(e.message, "expected an expression, found `,`");
    let e = err("p: mmap(NULL");
    assert_eq!(e.span, Span::point(12));
    assert_eq!(e.message, "expected `,` or `)` at the end of the line");
    let e = err("p: f(1,)");
    assert_eq!(e.span, Span::new(7, 8));
    let e = err("p: f(1) 2");
    assert_eq!(e.message, "expected the end of the line, found `2`");
    let e = err("domian d pv");
    assert_eq!(e.message, "unknown statement `domian`");
    assert_eq!(e.help.as_deref(), Some("did you mean `domain`?"));
    let e = err("domain d pv pagse=4");
    assert_eq!(e.help.as_deref(), Some("did you mean `pages`?"));
    assert_eq!(err("domain d pv pages").message, "`pages` needs a value");
    assert_eq!(err("domain d pv privileged=1").message, "`privileged` takes no value");
    assert_eq!(err("domain d pv pages=x").message, "`x` is not a constant");
    assert_eq!(err("domain d pv pages=\"a\"").message, "expected a number, found bytes");
    assert_eq!(err("domain d xen").message, "expected `native` or `pv`, found `xen`");
    assert_eq!(err("process p on d").message, "expected `in`, found `on`");
    assert_eq!(err("domain d pv pages=1 pages=2").message, "option `pages` given twice");
}

#[test]
fn broken_lines_keep_going_and_salvage_names() {
    let (script, errors) = parse("t", "domain d pv $\np: a = f(\ncheck\n");
    assert_eq!(errors.len(), 2);
    assert!(matches!(&script.stmts[0].kind, StmtKind::Broken { names } if names == &["d"]));
    assert!(matches!(&script.stmts[1].kind, StmtKind::Broken { names } if names == &["a"]));
    assert!(matches!(script.stmts[2].kind, StmtKind::Check));
    assert_eq!(script.stmts[2].line, 3);
}

#[test]
fn crlf_and_blank_lines() {
    let (script, errors) = parse("t", "\r\n  # only a comment\r\ncheck\r\n");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(script.stmts.len(), 1);
    assert_eq!(script.stmts[0].line, 3);
    assert_eq!(script.stmts[0].span, Span::new(22, 27));
}
