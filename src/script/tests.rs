//! Front-end tests over whole scripts: what docs/SCENARIO.md promises, and the
//! errors, with their exact positions, for what it forbids.

use super::*;

/// docs/SCENARIO.md, "Example: the case the seed fixes".
pub(super) const SEED: &str = r#"kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0
disk xvda in dom0

xvda: write(0, x"5a" * 4096)
domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g])
qemu: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off)
qemu: d = open("/dev/xvda", O_RDWR|O_DIRECT)
qemu: pread(d, a, 4096, 0) = 4096
domU: read_page(p, 0, 4) = x"5a5a5a5a"
check
"#;

/// docs/SCENARIO.md, "Example: native syscalls".
pub(super) const NATIVE: &str = r#"domain host native
process p in host mmap_base=0x7e0040000000

p: a = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fffe000
p: mprotect(a + 4K, 4K, PROT_READ) = 0
p: store(a + 4K, "x") = SIGSEGV:accerr@0x7e003ffff000
p: load(a, 2) = x"0000"
show maps p
show pagemap p a 8K
"#;

fn checked(src: &str) -> CheckedScript {
    match parse_and_check("t.mms", src) {
        Ok(c) => c,
        Err(errors) => panic!("unexpected errors:\n{}", render_errors("t.mms", src, &errors, false)),
    }
}

fn errors(src: &str) -> Vec<ScriptError> {
    match parse_and_check("t.mms", src) {
        Ok(_) => panic!("expected errors in:\n{src}"),
        Err(e) => e,
    }
}

/// The single error of `src`, as (line, column, message).
fn one_error(src: &str) -> (u32, u32, String) {
    let errs = errors(src);
    assert_eq!(errs.len(), 1, "{}", render_errors("t.mms", src, &errs, false));
    let (line, col) = line_col(src, errs[0].span.start);
    (line, col, errs[0].message.clone())
}

/// The text an error's span covers.
fn covered(src: &str, err: &ScriptError) -> String {
    src[err.span.start..err.span.end].to_owned()
}

fn actions(c: &CheckedScript) -> Vec<&Action> {
    c.steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Action(a) => Some(a),
            _ => None,
        })
        .collect()
}

const HOST: &str = "domain host native\nprocess p in host\n";

#[test]
fn scenario_examples_check_clean() {
    let seed = checked(SEED);
    assert_eq!(seed.kernel, Some(KernelConfig { variant: KernelVariant::FindSpecialPage, unmap: None }));
    assert_eq!(seed.domains.len(), 2);
    assert_eq!(seed.processes.len(), 1);
    assert_eq!(seed.disks.len(), 1);
    assert_eq!(actions(&seed).len(), 9);
    assert!(matches!(seed.steps.last().map(|s| &s.kind), Some(StepKind::Check)));

    let native = checked(NATIVE);
    assert_eq!(native.processes[0].mmap_base, Some(0x7e00_4000_0000));
    let shows: Vec<&str> = native
        .steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Show(show) => Some(show.what()),
            _ => None,
        })
        .collect();
    assert_eq!(shows, ["maps", "pagemap"]);
}

/// Every `.mms` in the repository's `examples/` and `tests/scenarios/`
/// checks clean.
#[test]
fn example_files_check_clean() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = [root.join("examples"), root.join("tests/scenarios")];
    let mut seen = 0;
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "mms") {
                let src = std::fs::read_to_string(&path).unwrap_or_default();
                let name = path.display().to_string();
                if let Err(errs) = parse_and_check(&name, &src) {
                    panic!("{}", render_errors(&name, &src, &errs, false));
                }
                seen += 1;
            }
        }
    }
    assert!(seen >= 40, "only {seen} example files found");
}

#[test]
fn checked_actions_are_resolved() {
    let c = checked(SEED);
    let acts = actions(&c);
    let dom0 = c.domain_by_name("dom0").expect("test");
    let domu = c.domain_by_name("domU").expect("test");
    let qemu = c.process_by_name("qemu").expect("test");

    assert_eq!(acts[0].actor, Actor::Disk(DiskId(0)));
    assert_eq!(acts[0].call.call, Call::DiskWrite);

    let grant = acts[2];
    assert_eq!(grant.actor, Actor::Domain(domu));
    assert_eq!(grant.call.call, Call::GnttabGrantForeignAccess);
    assert_eq!(grant.args[0].kind, ExprKind::Var("p".into()));
    assert_eq!(grant.args[1].kind, ExprKind::Domain { name: "dom0".into(), id: dom0 });
    assert_eq!(grant.args[2].kind, ExprKind::Const { name: "rw", value: 0 });
    assert_eq!(grant.bind, Some(Binding::Var("g".into())));

    let map = acts[4];
    assert_eq!(map.actor, Actor::Process(qemu));
    assert_eq!(map.args[2].kind, ExprKind::Domain { name: "domU".into(), id: domu });

    // The argument list evaluates once the variables are bound.
    let mut env = Env::new();
    env.bind("fd", Value::Int(3));
    env.bind("g", Value::Int(8));
    let args: Vec<Value> = map.args.iter().map(|a| eval(a, &env).expect("test")).collect();
    assert_eq!(args, [Value::Int(3), Value::Int(0x184700), Value::Domain(domu), Value::List(vec![Value::Int(8)])]);

    let pread = acts[7];
    let Some(Expected { kind: ExpectedKind::Value(e), .. }) = &pread.expect else { panic!() };
    assert_eq!(e.kind, ExprKind::Int(4096));
    assert_eq!(c.line_text(14), "qemu: pread(d, a, 4096, 0) = 4096");
    let pread_step =
        c.steps.iter().find(|s| matches!(&s.kind, StepKind::Action(a) if a.call.call == Call::Pread)).expect("test");
    assert_eq!(pread_step.line, 14);
    assert_eq!(c.line_col(pread_step.span), (14, 1));
    assert_eq!(c.actor_name(pread.actor), "qemu");

    // dom0 says `privileged`; domU is not.
    assert!(c.domains[dom0.0].privileged && !c.domains[domu.0].privileged);
}

#[test]
fn first_pv_domain_is_privileged_by_default() {
    let c = checked("domain n native\ndomain a pv\ndomain b pv\n");
    let privileged: Vec<bool> = c.domains.iter().map(|d| d.privileged).collect();
    assert_eq!(privileged, [false, true, false]);
    let c = checked("domain a pv\ndomain b pv privileged\n");
    let privileged: Vec<bool> = c.domains.iter().map(|d| d.privileged).collect();
    assert_eq!(privileged, [false, true]);
    assert_eq!(one_error("domain n native privileged\n"), (1, 17, "a native domain cannot be privileged".into()));
}

#[test]
fn unknown_constant_position() {
    let src = format!("{HOST}p: mmap(NULL, 4096, PROT_RAED, MAP_PRIVATE, -1, 0)\n");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1);
    assert_eq!(line_col(&src, errs[0].span.start), (3, 21));
    assert_eq!(errs[0].message, "unknown constant `PROT_RAED`");
    assert_eq!(errs[0].help.as_deref(), Some("did you mean `PROT_READ`?"));
    assert_eq!(covered(&src, &errs[0]), "PROT_RAED");
}

#[test]
fn unknown_constant_at_3_22() {
    let src = "domain host native\nprocess p in host\np: madvise(NULL, 4K, MADV_DONTNEEDX)\n";
    let (line, col, msg) = one_error(src);
    assert_eq!((line, col), (3, 22));
    assert_eq!(msg, "unknown constant `MADV_DONTNEEDX`");
}

#[test]
fn rendered_diagnostic_in_full() {
    let src = "domain host native\nprocess p in host\np: mmap(NULL, 4096, PROT_RAED, MAP_PRIVATE, -1, 0)\n";
    let errs = errors(src);
    // Written by hand from the format: header, then miette's ASCII snippet
    // box (line, underline), help.
    let expected = concat!(
        "demo.mms:3:21: error: unknown constant `PROT_RAED`\n",
        "   ,----\n",
        " 3 | p: mmap(NULL, 4096, PROT_RAED, MAP_PRIVATE, -1, 0)\n",
        "   :                     ^^^^^^^^^\n",
        "   `----\n",
        "  help: did you mean `PROT_READ`?\n",
    );
    assert_eq!(render_errors("demo.mms", src, &errs, false), expected);
}

#[test]
fn several_errors_in_source_order() {
    let src = "domain d pv\nd: frob()\nprocess p in nowhere\nd: x = alloc_page(\np: mmap(1)\n";
    let errs = errors(src);
    let lines: Vec<u32> = errs.iter().map(|e| line_col(src, e.span.start).0).collect();
    assert_eq!(lines, [2, 3, 4, 5]);
    assert_eq!(errs[0].message, "unknown domain call `frob`");
    assert_eq!(errs[1].message, "unknown domain `nowhere`");
    assert!(errs[2].message.starts_with("expected an expression"));
    // `p` is declared even though its domain is unknown: no cascade of "unknown actor".
    assert_eq!(errs.len(), 4, "{errs:?}");
    assert!(errs[3].message.contains("`mmap` takes 6 arguments, found 1"), "{}", errs[3].message);
}

#[test]
fn duplicate_declarations() {
    let (line, col, msg) = one_error("domain d pv\ndomain d native\n");
    assert_eq!((line, col, msg.as_str()), (2, 8, "`d` is already declared (a domain, line 1)"));
    let (line, _, msg) = one_error("domain d pv\nprocess d in d\n");
    assert_eq!((line, msg.as_str()), (2, "`d` is already declared (a domain, line 1)"));
    let (_, _, msg) = one_error("domain d pv\nd: p = alloc_page()\nprocess p in d\n");
    assert_eq!(msg, "`p` is already declared (a variable, line 2)");
    let (_, _, msg) = one_error("domain d pv\nd: d = alloc_page()\n");
    assert_eq!(msg, "`d` is already declared (a domain, line 1)");
    // Rebinding a variable is allowed.
    checked("domain d pv\nd: p = alloc_page()\nd: p = alloc_page()\nd: free_page(p)\n");
}

#[test]
fn reserved_and_constant_names() {
    assert_eq!(one_error("domain check pv\n").2, "`check` is a reserved word and cannot be used as a name");
    assert_eq!(one_error("domain EINVAL pv\n").2, "`EINVAL` is a constant and cannot be used as a name");
    assert_eq!(
        one_error("domain d pv\nd: ok = alloc_page()\n").2,
        "`ok` is a reserved word and cannot be used as a name"
    );
}

#[test]
fn use_before_declaration() {
    let (line, col, msg) = one_error("process p in d\ndomain d pv\n");
    assert_eq!((line, col), (1, 14));
    assert_eq!(msg, "`d` is used before it is declared (line 2)");
    let (line, col, msg) = one_error("domain d pv\nd: free_page(p)\nd: p = alloc_page()\n");
    assert_eq!((line, col), (2, 14));
    assert_eq!(msg, "`p` is used before it is bound (line 3)");
    let (_, _, msg) = one_error("domain d pv\nd: p = free_page(p)\n");
    assert_eq!(msg, "`p` is used before it is bound (line 2)");
    let (_, _, msg) = one_error("domain d pv\nd: free_page(q)\n");
    assert_eq!(msg, "unknown name `q`");
}

#[test]
fn unknown_actor() {
    let (line, col, msg) = one_error(&format!("{HOST}q: munmap(0, 4K)\n"));
    assert_eq!((line, col, msg.as_str()), (3, 1, "unknown actor `q`"));
    let (_, _, msg) = one_error(&format!("{HOST}pp: munmap(0, 4K)\n"));
    assert_eq!(msg, "unknown actor `pp`");
    let e = errors(&format!("{HOST}pp: munmap(0, 4K)\n"));
    assert_eq!(e[0].help.as_deref(), Some("did you mean `p`?"));
    let (_, _, msg) = one_error("domain d pv\nfile f in d\nf: munmap(0, 4K)\n");
    assert_eq!(msg, "`f` is a file, not an actor");
}

#[test]
fn calls_of_the_wrong_actor_kind() {
    let (_, col, msg) = one_error(&format!("{HOST}p: x = alloc_page()\n"));
    assert_eq!(col, 8);
    assert_eq!(msg, "`alloc_page` is a domain call, but `p` is a process");
    let (_, _, msg) = one_error(&format!("{HOST}p: mmapp(0, 4K, 0, 0, -1, 0)\n"));
    assert_eq!(msg, "unknown process call `mmapp`");
    let (_, _, msg) = one_error("domain d pv\ndisk x in d\nx: mmap(0, 4K, 0, 0, -1, 0)\n");
    assert_eq!(msg, "`mmap` is a process call, but `x` is a disk");
}

#[test]
fn arity() {
    let src = format!("{HOST}p: mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, -1)\n");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].message, "`mmap` takes 6 arguments, found 5");
    assert_eq!(covered(&src, &errs[0]), ")");
    assert_eq!(errs[0].help.as_deref(), Some("mmap(addr, len, prot, flags, fd, off)"));

    let src = format!("{HOST}p: munmap(0, 4K, 7, 8)\n");
    let errs = errors(&src);
    assert_eq!(errs[0].message, "`munmap` takes 2 arguments, found 4");
    assert_eq!(covered(&src, &errs[0]), "7");

    assert_eq!(one_error(&format!("{HOST}p: mremap(0, 4K, 8K)\n")).2, "`mremap` takes 4 or 5 arguments, found 3");
    checked(&format!("{HOST}p: mremap(0, 4K, 8K, MREMAP_MAYMOVE)\np: mremap(0, 4K, 8K, 3, 0x1000)\n"));
    assert_eq!(one_error(&format!("{HOST}p: ioctl(3)\n")).2, "`ioctl` takes at least 2 arguments, found 1");
    checked(&format!("{HOST}p: ioctl(3, 0x1234, 1, 2, 3, 4)\n"));
    assert_eq!(one_error("domain d pv\nd: alloc_page(1)\n").2, "`alloc_page` takes 0 arguments, found 1");
}

#[test]
fn known_ioctls_check_their_arguments() {
    let base = "domain dom0 pv\ndomain domU pv\nprocess q in dom0\nq: fd = open(\"/dev/xen/gntdev\", O_RDWR)\n";
    let (line, col, msg) = one_error(&format!("{base}q: ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU)\n"));
    assert_eq!((line, col), (5, 14));
    assert_eq!(msg, "`IOCTL_GNTDEV_MAP_GRANT_REF` takes 2 arguments after the request (domain, refs), found 1");
    let (_, _, msg) = one_error(&format!("{base}q: ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, 7, [1])\n"));
    assert_eq!(msg, "argument `domain` of `ioctl` must be a domain name, found a number");
    let (_, _, msg) = one_error(&format!("{base}q: ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, 1)\n"));
    assert_eq!(msg, "argument `refs` of `ioctl` must be a list, found a number");
    // The raw number of a known request is checked the same way.
    assert!(one_error(&format!("{base}q: ioctl(fd, 0x184700, domU)\n")).2.contains("request 0x184700"));
    checked(&format!(
        "{base}q: ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, 0, 1)\nq: ioctl(fd, IOCTL_GNTDEV_SET_UNMAP_NOTIFY, 0, UNMAP_NOTIFY_CLEAR_BYTE, 0)\n\
         q: pfd = open(\"/dev/xen/privcmd\", O_RDWR)\nq: ioctl(pfd, IOCTL_PRIVCMD_MMAPBATCH_V2, 0x1000, domU, [1, 2])\n"
    ));
}

#[test]
fn argument_kinds() {
    let (_, _, msg) = one_error(&format!("{HOST}p: munmap([1, 2], 4K)\n"));
    assert_eq!(msg, "argument `addr` of `munmap` must be a number, found a list");
    let (_, _, msg) = one_error(&format!("{HOST}p: store(0x1000, 5)\n"));
    assert_eq!(msg, "argument `data` of `store` must be bytes, found a number");
    let (_, _, msg) = one_error(&format!("{HOST}p: b = load(0x1000, 2)\np: munmap(b, 4K)\n"));
    assert_eq!(msg, "argument `addr` of `munmap` must be a number, found bytes");
    let (_, _, msg) = one_error(&format!("{HOST}p: munmap(0x1000 + \"x\", 4K)\n"));
    assert_eq!(msg, "`+` needs two numbers, found a number and bytes");
    let (_, _, msg) = one_error(&format!("{HOST}p: munmap(host, 4K)\n"));
    assert_eq!(msg, "argument `addr` of `munmap` must be a number, found a domain");
    let (_, _, msg) = one_error(&format!("{HOST}p: munmap(p, 4K)\n"));
    assert_eq!(msg, "`p` is a process, not a value");
    // Bytes results concatenate and repeat.
    checked(&format!("{HOST}p: b = load(0x1000, 2)\np: store(0x2000, b ++ x\"00\" * 3)\n"));
    // mincore without `vec` returns bytes, with it a number.
    checked(&format!(
        "{HOST}p: v = mincore(0, 4K)\np: store(0x1000, v)\np: n = mincore(0, 4K, 0x2000)\np: munmap(n, 4K)\n"
    ));
}

#[test]
fn bare_words_in_their_positions() {
    let c = checked(&format!("{HOST}p: touch(0x1000, 4K, w)\np: touch(0x1000, 4K, r)\np: touch(0x1000, 4K, 1)\n"));
    let acts = actions(&c);
    assert_eq!(acts[0].args[2].kind, ExprKind::Const { name: "w", value: 1 });
    assert_eq!(acts[1].args[2].kind, ExprKind::Const { name: "r", value: 0 });
    assert_eq!(acts[2].args[2].kind, ExprKind::Int(1));
    let (_, col, msg) = one_error(&format!("{HOST}p: touch(0x1000, 4K, rw)\n"));
    assert_eq!(col, 22);
    assert_eq!(msg, "argument `access` of `touch` must be `r` or `w`, found `rw`");
    let c = checked("domain a pv\ndomain b pv\na: p = alloc_page()\na: g = gnttab_grant_foreign_access(p, b, ro)\n");
    assert_eq!(actions(&c)[1].args[2].kind, ExprKind::Const { name: "ro", value: 1 });
    // Elsewhere `w` is an ordinary (here unknown) name.
    assert_eq!(one_error(&format!("{HOST}p: munmap(w, 4K)\n")).2, "unknown name `w`");
}

#[test]
fn fork_declares_a_child_process() {
    let src = format!("{HOST}p: child = fork()\nchild: munmap(0, 4K) = 0\nshow maps child\n");
    let c = checked(&src);
    let child = c.process_by_name("child").expect("test");
    assert_eq!(c.processes[child.0].parent, Some(ProcessId(0)));
    assert_eq!(c.processes[child.0].domain, c.processes[0].domain);
    let acts = actions(&c);
    assert_eq!(acts[0].bind, Some(Binding::Child(child)));
    assert_eq!(acts[1].actor, Actor::Process(child));
    assert!(matches!(c.steps.last().map(|s| &s.kind), Some(StepKind::Show(ShowStep::Maps(id))) if *id == child));
    // The child cannot be used before the fork.
    let (line, _, msg) = one_error(&format!("{HOST}child: munmap(0, 4K)\np: child = fork()\n"));
    assert_eq!((line, msg.as_str()), (3, "`child` is used before it is declared (line 4)"));
    // Nor take an existing name.
    assert_eq!(one_error(&format!("{HOST}p: host = fork()\n")).2, "`host` is already declared (a domain, line 1)");
    // A fork without a binding is fine.
    checked(&format!("{HOST}p: fork() = ok\n"));
}

#[test]
fn exited_processes_make_no_calls() {
    let (line, col, msg) = one_error(&format!("{HOST}p: exit()\np: munmap(0, 4K)\n"));
    assert_eq!((line, col, msg.as_str()), (4, 1, "`p` exited on line 3 and can make no more calls"));
}

#[test]
fn kernel_lines() {
    let c = checked("kernel m2p-override unmap=deferred\n");
    assert_eq!(
        c.kernel,
        Some(KernelConfig { variant: KernelVariant::M2pOverride, unmap: Some(UnmapPolicy::Deferred) })
    );
    for v in KernelVariant::ALL {
        assert_eq!(checked(&format!("kernel {}\n", v.name())).kernel.map(|k| k.variant), Some(v));
    }
    let src = "kernel find-special-pages\n";
    let errs = errors(src);
    assert_eq!(errs[0].message, "unknown kernel variant `find-special-pages`");
    assert_eq!(errs[0].help.as_deref(), Some("did you mean `find-special-page`?"));
    assert_eq!(covered(src, &errs[0]), "find-special-pages");
    let (_, col, msg) = one_error("kernel no-special-pte unmap=later\n");
    assert_eq!((col, msg.as_str()), (29, "unknown unmap policy `later`"));
    let (line, _, msg) = one_error("domain d pv\nkernel no-special-pte\n");
    assert_eq!((line, msg.as_str()), (2, "`kernel` must come before the other statements"));
    let (line, _, msg) = one_error("kernel no-special-pte\nkernel m2p-override\n");
    assert_eq!((line, msg.as_str()), (2, "a second `kernel` line (the first is line 1)"));
    checked("# comment first\nmachine frames=64K\nkernel no-find-special-page\ndomain d pv\n");
}

#[test]
fn kernel_override_words() {
    assert_eq!(
        parse_kernel_override("no-special-pte unmap=immediate"),
        Ok(KernelConfig { variant: KernelVariant::NoSpecialPte, unmap: Some(UnmapPolicy::Immediate) })
    );
    let errs = parse_kernel_override("  m2p").unwrap_err();
    assert_eq!(errs[0].span, Span::new(2, 5));
    assert_eq!(
        render_errors("--kernel", "  m2p", &errs, false).lines().next(),
        Some("--kernel:1:3: error: unknown kernel variant `m2p`")
    );
    assert!(parse_kernel_override("").is_err());
}

#[test]
fn expectations_must_fit_the_call() {
    let (_, _, msg) = one_error(&format!("{HOST}p: load(0x1000, 2) = ok\n"));
    assert_eq!(msg, "`ok` matches a non-negative number, but `load` returns bytes");
    let (_, col, msg) = one_error(&format!("{HOST}p: munmap(0, 4K) = SIGSEGV\n"));
    assert_eq!(col, 20);
    assert_eq!(msg, "`munmap` makes no user access, so it cannot raise SIGSEGV");
    let (_, _, msg) = one_error(&format!("{HOST}p: munmap(0, 4K) = x\"00\"\n"));
    assert_eq!(msg, "`munmap` returns a number, but the expectation is bytes");
    // A call that returns bytes may be expected to fail: a constant -ERRNO
    // (issue 13: `mincore(addr, len) = -ENOMEM`), not any other number.
    checked(&format!("{HOST}p: mincore(0x1000, 4K) = -ENOMEM\np: load(0x1000, 1) = -EFAULT\n"));
    checked("domain d native\nd: read_page(1, 0, 4) = -(EINVAL)\n");
    let (_, _, msg) = one_error(&format!("{HOST}p: mincore(0x1000, 4K) = 0\n"));
    assert_eq!(msg, "`mincore` returns bytes, but the expectation is a number");
    let (_, _, msg) = one_error(&format!("{HOST}p: mincore(0x1000, 4K) = -5000\n"));
    assert_eq!(msg, "`mincore` returns bytes, but the expectation is a number");
    let (_, _, msg) = one_error(&format!("{HOST}p: n = munmap(0, 4K)\np: mincore(0x1000, 4K) = n\n"));
    assert_eq!(msg, "`mincore` returns bytes, but the expectation is a number");
    let (_, _, msg) = one_error(&format!("{HOST}p: load(0, 1) = SIGBUS@\"x\"\n"));
    assert_eq!(msg, "the signal address must be a number, found bytes");
    let (_, _, msg) = one_error(&format!("{HOST}p: load(0, 1) = SIGBUS@nowhere\n"));
    assert_eq!(msg, "unknown name `nowhere`");
    checked(&format!(
        "{HOST}p: a = mmap(0, 4K, 3, 0x22, -1, 0)\np: load(a, 1) = SIGSEGV:maperr@a\np: munmap(a, 4K) = -EINVAL\n"
    ));
}

#[test]
fn hung_is_an_expectation_of_process_calls() {
    // A hung process's later actions are HUNG too, so any process call may
    // expect it; a domain's call may not.
    checked(&format!("{HOST}p: munmap(0x1000, 4K) = HUNG\np: load(0x1000, 2) = HUNG\np: exit() = HUNG\n"));
}

#[test]
fn killed_is_an_expectation_of_process_calls_only() {
    // The OOM killer kills processes: any process call may expect KILLED,
    // a domain's call may not.
    checked(&format!("{HOST}p: touch(0x1000, 4K, w) = KILLED\np: munmap(0x1000, 4K) = KILLED\n"));
    let (_, _, msg) = one_error(&format!("{HOST}host: alloc_page() = KILLED\n"));
    assert_eq!(msg, "`alloc_page` is not a process call, so its process cannot be killed");
}

#[test]
fn setup_statements_and_shows() {
    let c = checked(
        "machine frames=1024\ndomain d pv pages=256\nprocess p in d uid=1000 brk=0x600000\nfile f in d size=8K\n\
         disk x in d sectors=64\nshow smaps p\nshow pagetable p 0x600000\nshow grants d\nshow page d 3\ncheck\n",
    );
    assert_eq!(c.machine.frames, 1024);
    assert_eq!(c.domains[0].pages, Some(256));
    assert_eq!((c.processes[0].uid, c.processes[0].brk), (1000, Some(0x60_0000)));
    assert_eq!(c.files[0].size, Some(8192));
    assert_eq!(c.disks[0].sectors, Some(64));
    let kinds: Vec<&str> = c
        .steps
        .iter()
        .map(|s| match &s.kind {
            StepKind::Domain(_) => "domain",
            StepKind::Process(_) => "process",
            StepKind::File(_) => "file",
            StepKind::Disk(_) => "disk",
            StepKind::Action(_) => "action",
            StepKind::Show(s) => s.what(),
            StepKind::Check => "check",
        })
        .collect();
    assert_eq!(kinds, ["domain", "process", "file", "disk", "smaps", "pagetable", "grants", "page", "check"]);
    assert_eq!(one_error("domain d pv\nshow maps d\n").2, "`d` is a domain, not a process");
    assert_eq!(one_error(&format!("{HOST}show grants p\n")).2, "`p` is a process, not a domain");
    assert_eq!(one_error(&format!("{HOST}show pagemap p \"a\" 4K\n")).2, "the address must be a number, found bytes");
    assert_eq!(one_error("domain d pv\nprocess p in d uid=0x100000000\n").2, "a uid must fit in 32 bits");
    assert_eq!(one_error("machine frames=0\n").2, "a machine needs at least one frame");
}

#[test]
fn literal_forms_in_arguments() {
    let src = format!(
        "{HOST}p: store(0x7e00_0000_0000, \"a\\n\\t\\\\\\\"\\x41\" ++ x\"de ad\" ++ x\"5a\" * 3)\n\
         p: munmap(0xffffffffffffffff, 1T + 2G + 3M + 4K + 5)\n\
         p: munmap(-1, -EINVAL)\n"
    );
    let c = checked(&src);
    let acts = actions(&c);
    let env = Env::new();
    let v = |a: &Action, i: usize| eval(&a.args[i], &env).expect("test");
    assert_eq!(v(acts[0], 0), Value::Int(0x7e00_0000_0000));
    assert_eq!(v(acts[0], 1), Value::Bytes(b"a\n\t\\\"A\xde\xad\x5a\x5a\x5a".to_vec()));
    assert_eq!(v(acts[1], 0), Value::Int(u64::MAX));
    assert_eq!(v(acts[1], 1), Value::Int((1 << 40) + (2 << 30) + (3 << 20) + 4096 + 5));
    assert_eq!(v(acts[2], 0), Value::Int(u64::MAX));
    assert_eq!(v(acts[2], 1), Value::Int(22u64.wrapping_neg()));
}

#[test]
fn lexical_errors_have_positions() {
    let src = format!("{HOST}p: munmap(0x1_0000_0000_0000_0000, 4K)\n");
    let errs = errors(&src);
    assert_eq!(line_col(&src, errs[0].span.start), (3, 11));
    assert_eq!(errs[0].message, "number `0x1_0000_0000_0000_0000` does not fit in 64 bits");
    let src = format!("{HOST}p: store(0, \"\\q\")\n");
    let errs = errors(&src);
    assert_eq!(covered(&src, &errs[0]), "\\q");
    let src = format!("{HOST}p: munmap(0, 4KB)\n");
    assert!(errors(&src)[0].message.contains("size suffixes are K, M, G, T"));
}

#[test]
fn large_script_parses() {
    let mut src = String::from("domain d native\nprocess p in d\n");
    for i in 0..100_000u32 {
        src.push_str(&format!(
            "p: a{} = mmap(NULL, {}K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) # {i}\n",
            i % 7,
            i % 64 + 1
        ));
    }
    let c = checked(&src);
    assert_eq!(c.steps.len(), 100_002);
    assert_eq!(c.steps.last().map(|s| s.line), Some(100_002));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for (open, close) in [("(", ")"), ("[", "]"), ("-", "")] {
        let src = format!("{HOST}p: munmap({}1{}, 4K)\n", open.repeat(100_000), close.repeat(100_000));
        let errs = errors(&src);
        assert!(errs[0].message.contains("nested too deeply"), "{}", errs[0].message);
        assert_eq!(line_col(&src, errs[0].span.start), (3, 11 + MAX_DEPTH));
    }
    let chain = vec!["1"; 100_000].join(" + ");
    assert!(errors(&format!("{HOST}p: munmap({chain}, 4K)\n"))[0].message.contains("nested too deeply"));
}

/// The deepest accepted expressions parse, check and evaluate in a thread
/// with a quarter of the default test stack (in debug builds).
#[test]
fn deepest_expressions_fit_a_small_stack() {
    let work = || {
        let depth = MAX_DEPTH as usize - 1;
        let sum = format!("{}1{}", "(1 + ".repeat(depth), ")".repeat(depth));
        let list = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let negs = format!("{}1", "-".repeat(depth));
        let src = format!(
            "{HOST}p: munmap({sum}, 4K)\np: ioctl(3, 0, {list})\np: munmap({negs}, 4K)\np: munmap(1{}, 4K)\n",
            " * 1".repeat(depth)
        );
        let c = checked(&src);
        let env = Env::new();
        let acts = actions(&c);
        assert_eq!(eval(&acts[0].args[0], &env), Ok(Value::Int(MAX_DEPTH as u64)));
        assert!(eval(&acts[1].args[2], &env).is_ok());
        assert_eq!(eval(&acts[2].args[0], &env), Ok(Value::Int(u64::MAX)));
        assert_eq!(eval(&acts[3].args[0], &env), Ok(Value::Int(1)));
    };
    let handle = std::thread::Builder::new().stack_size(512 * 1024).spawn(work);
    assert!(handle.map(|h| h.join().is_ok()).unwrap_or(false));
}

#[test]
fn expect_violation_names_are_checked() {
    let c = checked("domain d native\nexpect violation gup-wrong-page dma-misdirected\n");
    assert_eq!(c.expect_violations, Some(vec!["gup-wrong-page".to_string(), "dma-misdirected".to_string()]));
    assert_eq!(checked("expect violations none\n").expect_violations, Some(vec![]));
    assert_eq!(checked("domain d native\n").expect_violations, None);
    let e = errors("expect violation gup-wrong-pgae\n");
    assert_eq!(e[0].message, "unknown invariant `gup-wrong-pgae`");
    assert_eq!(e[0].help.as_deref(), Some("did you mean `gup-wrong-page`?"));
    let e = errors("expect violation grant-leak grant-leak\n");
    assert!(e[0].message.contains("named twice"), "{e:?}");
    let e = errors("expect violation grant-leak\nexpect violations none\n");
    assert!(e[0].message.contains("a second `expect violation` line (the first is line 1)"), "{e:?}");
    // A keyword: not a name.
    assert!(!errors("domain expect native\n").is_empty());
}
