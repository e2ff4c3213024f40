//! Property tests: no input makes the front end panic, and every error it
//! reports points inside the source.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use super::tests::{NATIVE, SEED};
use super::*;

/// A script using most of the language, as a base for mutations.
const KITCHEN: &str = r#"kernel m2p-override unmap=immediate
machine frames=64K
domain dom0 pv privileged pages=1024
domain domU pv
process qemu in dom0 uid=0 mmap_base=0x7e0040000000 brk=0x600000
file shm in dom0 size=8K
disk xvda in dom0 sectors=16

domU: p = alloc_page()
domU: write_page(p, 0, "hi\n" ++ x"00ff" * 2)
domU: g = gnttab_grant_foreign_access(p, dom0, ro)
qemu: fd = open("/dev/xen/gntdev", O_RDWR|O_CLOEXEC)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g, g])
qemu: a = mmap(NULL, 2 * 4K, PROT_READ, MAP_SHARED, fd, off) = ok
qemu: touch(a, 8K, r) = 0
qemu: store(a, "x") = SIGSEGV:accerr@a
qemu: madvise(a, 4K, MADV_GUARD_INSTALL) = -EINVAL
qemu: child = fork()
child: exit()
qemu: n = pin_user_pages(a, 1, FOLL_WRITE|FOLL_LONGTERM)
qemu: unpin_user_pages(n)
show pagemap qemu a 8K
show page domU p
check
"#;

/// Checks the invariants every input must satisfy.
fn assert_well_formed(src: &str) {
    let first = parse_and_check("f.mms", src);
    match &first {
        Ok(c) => {
            for step in &c.steps {
                assert!(step.span.start <= step.span.end && step.span.end <= src.len());
            }
        }
        Err(errs) => {
            assert!(!errs.is_empty());
            for e in errs {
                assert!(e.span.start <= e.span.end && e.span.end <= src.len(), "{e:?} outside {}", src.len());
                assert!(src.is_char_boundary(e.span.start) && src.is_char_boundary(e.span.end), "{e:?}");
                assert!(!e.message.is_empty());
            }
            assert!(errs.windows(2).all(|w| w[0].span.start <= w[1].span.start), "errors out of order");
            let out = render_errors("f.mms", src, errs, false);
            assert!(out.starts_with("f.mms:"), "{out}");
            assert!(!out.contains('\x1b'));
        }
    }
    // Deterministic.
    assert_eq!(first.map(|c| c.steps.len()), parse_and_check("f.mms", src).map(|c| c.steps.len()));
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Insert(usize, char),
    Duplicate(usize),
    SwapTokens(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        '(', ')', '[', ']', ',', ':', '=', '|', '+', '-', '*', '@', '#', '"', 'x', '\\', ' ', '\n', '\t', '0', '9',
        'a', 'Z', '_', 'K', 'é', '\r', '\0',
    ]);
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), interesting).prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Mutation::SwapTokens(i, j)),
    ]
}

fn apply(src: &str, m: &Mutation) -> String {
    let mut chars: Vec<char> = src.chars().collect();
    match *m {
        Mutation::Delete(i) if !chars.is_empty() => {
            chars.remove(i % chars.len());
        }
        Mutation::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
        Mutation::Duplicate(i) if !chars.is_empty() => {
            let i = i % chars.len();
            chars.insert(i, chars[i]);
        }
        Mutation::SwapTokens(i, j) => {
            let mut toks: Vec<&str> = src.split(' ').collect();
            let n = toks.len();
            toks.swap(i % n, j % n);
            return toks.join(" ");
        }
        _ => {}
    }
    chars.into_iter().collect()
}

#[test]
fn kitchen_sink_checks_clean() {
    if let Err(errs) = parse_and_check("k.mms", KITCHEN) {
        panic!("{}", render_errors("k.mms", KITCHEN, &errs, false));
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        // Failures are saved beside this file (proptests.proptest-regressions).
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        assert_well_formed(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_language_soup_never_panics(src in "[a-zA-Z0-9_ :=(),\\[\\]\"|+*@#\\n-]{0,400}") {
        assert_well_formed(&src);
    }

    #[test]
    fn mutated_examples_never_panic(
        base in prop::sample::select(vec![SEED, NATIVE, KITCHEN]),
        muts in prop::collection::vec(mutation(), 1..8),
    ) {
        let mut src = base.to_owned();
        for m in &muts {
            src = apply(&src, m);
        }
        assert_well_formed(&src);
    }

    #[test]
    fn integer_literals_round_trip(v in any::<u64>()) {
        let src = format!("domain d native\nprocess p in d\np: munmap({v}, {v:#x})\n");
        let c = parse_and_check("f", &src).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let StepKind::Action(a) = &c.steps[2].kind else { return Err(TestCaseError::fail("no action")) };
        let env = Env::new();
        prop_assert_eq!(eval(&a.args[0], &env), Ok(Value::Int(v)));
        prop_assert_eq!(eval(&a.args[1], &env), Ok(Value::Int(v)));
    }
}
