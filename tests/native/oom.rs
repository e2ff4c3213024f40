//! Out of memory as Linux handles it (kernel/oom_kill.rs): the OOM killer's
//! choice, its log lines, KILLED results, and fault injection that never
//! reaches it. Expected values come from mm/oom_kill.c (6.12) and the
//! model's page accounting (each figure derived in the comments), not from
//! a first run.

use mmsim::run::{CallResult, Event, Runner, effective_variant};
use mmsim::script;

/// Runs `src`; returns the runner (for the world) and each step's result.
fn run(src: &str) -> (Vec<(u32, CallResult)>, Vec<String>, u32) {
    let checked = script::parse_and_check("t.mms", src).expect("valid scenario");
    let variant = effective_variant(&checked, None);
    let mut r = Runner::new(&checked, variant);
    let mut steps = Vec::new();
    let out = r
        .run(&mut |e| {
            if let Event::Step { line, result, .. } = e {
                steps.push((*line, result.clone()));
            }
        })
        .expect("runs");
    let k = r.world.kernel(0).expect("domain 0");
    let log = k.dmesg.iter().map(|e| e.message.clone()).collect();
    (steps, log, out.violations + out.expectations_failed)
}

const HEAD: &str = "domain host native pages=300\nprocess a in host\nprocess b in host\nprocess c in host\n";

#[test]
fn the_highest_badness_dies_with_the_kernels_lines() {
    // a: 64 pages, b: 200 pages, c faults until memory runs out. Free at
    // start: 300 - 2 reserved = 298; 3 PGDs -> 295; the slab page of the
    // VMAs (a's mmap, kernel/slab.rs) -> 294; a 64 + 3 tables -> 227;
    // b 200 + 3 tables -> 24; c gets 3 tables + 21 pages, then its 22nd
    // page finds none and the OOM killer picks b (badness 200 + 3).
    let src = format!(
        "{HEAD}a: x = mmap(0, 256K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok\n\
         a: touch(x, 256K, w) = 0\n\
         b: y = mmap(0, 800K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok\n\
         b: touch(y, 800K, w) = 0\n\
         c: z = mmap(0, 400K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok\n\
         c: touch(z, 400K, w) = 0\n\
         b: load(y, 1) = KILLED\n\
         a: load(x, 1) = x\"00\"\n"
    );
    let (steps, log, bad) = run(&src);
    assert_eq!(bad, 0, "every expectation holds, no invariant breaks: {steps:?}");
    // dump_header(): current is c, the allocation a zeroed anonymous page.
    assert!(log.contains(
        &"c invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0"
            .to_string()
    ));
    // dump_task() for b: "[%7d] %5d %5d %8lu %8lu %8lu %8lu %9lu %8ld %8lu         %5hd %s".
    let row = format!(
        "[{:>7}] {:>5} {:>5} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8}         {:>5} {}",
        2,
        0,
        2,
        200,
        200,
        200,
        0,
        0,
        3 * 4096,
        0,
        0,
        "b"
    );
    assert!(log.contains(&row), "{row:?} in {log:#?}");
    assert!(log.contains(&"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task=b,pid=2,uid=0".to_string()));
    // __oom_kill_process(): K() of 200 pages is 800 kB; 3 tables 12 kB.
    assert!(log.contains(
        &"Out of memory: Killed process 2 (b) total-vm:800kB, anon-rss:800kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:12kB oom_score_adj:0"
            .to_string()
    ));
    assert_eq!(log.iter().filter(|l| l.contains("Killed process")).count(), 1, "one victim is enough");
}

#[test]
fn oom_badness_is_rss_plus_page_tables() {
    let src = format!(
        "{HEAD}a: x = mmap(0, 40K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok\n\
         a: touch(x, 40K, w) = 0\n"
    );
    let checked = script::parse_and_check("t.mms", &src).unwrap();
    let mut r = Runner::new(&checked, effective_variant(&checked, None));
    r.run(&mut |_| {}).unwrap();
    let (_, pid) = r.pid_of("a").unwrap();
    let k = r.world.kernel(0).unwrap();
    // 10 pages + PUD, PMD and PTE tables (the PGD is not counted).
    assert_eq!(k.mm_pgtables_bytes(pid), 3 * 4096);
    assert_eq!(k.oom_badness(pid), Some(13));
    // b has only its PGD: badness 0, still a candidate (not LONG_MIN).
    let (_, b) = r.pid_of("b").unwrap();
    assert_eq!(k.oom_badness(b), Some(0));
}

#[test]
fn fault_injection_never_invokes_the_oom_killer() {
    // b fills memory (298 - 3 PGDs - the slab page of the VMAs
    // (kernel/slab.rs) - a's 3 tables and 1 page - b's 3 tables = 287
    // pages), then injected failures: a's GUP fails with
    // -ENOMEM (mlock's populate error becomes -EAGAIN, mm/mlock.c
    // __mlock_posix_error_return) with nobody killed; a's user store retries until they are
    // spent; the shortage behind them then kills b.
    let src = format!(
        "{HEAD}a: x = mmap(0, 16K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok\n\
         a: store(x, \"a\") = 0\n\
         b: y = mmap(0, 1148K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok\n\
         b: touch(y, 1148K, w) = 0\n\
         host: fail_page_alloc(0, 2) = 0\n\
         a: pin_user_pages(x + 4K, 1, FOLL_WRITE) = -ENOMEM\n\
         a: mlock(x + 4K, 4K) = -EAGAIN\n\
         b: load(y, 1) = x\"00\"\n\
         host: fail_page_alloc(0, 3) = 0\n\
         a: store(x + 4K, \"a\") = 0\n"
    );
    let (steps, log, bad) = run(&src);
    assert_eq!(bad, 0, "{steps:?}");
    // Three injected failures, then a real shortage: the store's fault
    // fails 3 times (3 warnings), then its allocation meets the OOM killer,
    // which kills b: the first OOM line comes after the last warning, and
    // the GUP failures before killed nobody (b's load still ran).
    let huh = "Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF";
    assert_eq!(log.iter().filter(|l| *l == huh).count(), 3, "{log:#?}");
    let last_huh = log.iter().rposition(|l| l == huh).unwrap();
    let first_oom = log.iter().position(|l| l.contains("invoked oom-killer")).expect("the real shortage");
    assert!(first_oom > last_huh, "{log:#?}");
    assert_eq!(log.iter().filter(|l| l.starts_with("Out of memory: Killed process 2 (b)")).count(), 1);
    assert_eq!(steps[7].1, CallResult::Bytes(vec![0]), "b still ran after the injected failures");
}

#[test]
fn exhaustion_ends_in_kills_never_in_host_memory() {
    // Ten processes each touching 1 MiB in a 300-page domain: every touch
    // either completes or its process is KILLED; the world stays
    // consistent (no invariant breaks) and the free list never goes past
    // the domain's pages.
    let mut src = String::from("domain host native pages=300\n");
    for i in 0..10 {
        src.push_str(&format!("process p{i} in host\n"));
    }
    for i in 0..10 {
        src.push_str(&format!(
            "p{i}: m{i} = mmap(0, 1M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\np{i}: touch(m{i}, 1M, w)\n"
        ));
    }
    let (steps, log, bad) = run(&src);
    assert_eq!(bad, 0);
    let touches: Vec<&CallResult> = steps.iter().skip(1).step_by(2).map(|(_, r)| r).collect();
    assert_eq!(touches.len(), 10);
    for r in &touches {
        assert!(matches!(r, CallResult::Value(0) | CallResult::Killed { .. }), "{r:?}");
    }
    // 256 pages + 3 tables each: at most one such process fits at a time
    // (298 - PGDs < 2 x 259), so each new toucher kills the last one.
    let kills = log.iter().filter(|l| l.starts_with("Out of memory: Killed process")).count();
    assert!(kills >= 9, "{kills} kills: {log:#?}");
}

#[test]
fn no_killable_task_is_a_kernel_panic_and_ends_the_run() {
    // The only task with memory is OOM_SCORE_ADJ_MIN: select_bad_process()
    // finds nothing, out_of_memory() logs "Out of memory and no killable
    // processes..." and panics ("System is deadlocked on memory",
    // mm/oom_kill.c 6.12 lines 1169-1176). The model cannot go on with a
    // dead kernel: the run ends with an error at the faulting step.
    let src = "domain host native pages=300\nprocess p in host\n\
               p: oom_score_adj(-1000) = 0\n\
               p: m = mmap(0, 1200K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok\n\
               p: touch(m, 1200K, w) = 0\n";
    let checked = script::parse_and_check("t.mms", src).unwrap();
    let mut r = Runner::new(&checked, effective_variant(&checked, None));
    let err = r.run(&mut |_| {}).expect_err("the kernel panicked");
    assert!(err.message.contains("System is deadlocked on memory"), "{}", err.message);
    let at = &src[err.span.start..];
    assert!(at.starts_with("p: touch") || at.starts_with("touch"), "at the touch: {at:?}");
    let log: Vec<String> = r.world.kernel(0).unwrap().dmesg.iter().map(|e| e.message.clone()).collect();
    let panics = log.iter().filter(|l| *l == "Kernel panic - not syncing: System is deadlocked on memory").count();
    assert_eq!(panics, 1, "{log:#?}");
    assert!(log.contains(&"Out of memory and no killable processes...".to_string()));
    assert!(!log.iter().any(|l| l.contains("Killed process")));
}

/// `n` one-page anonymous mappings with alternating protections (no two
/// merge), as script lines of process `p`.
fn unmergeable_vmas(p: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            let prot = if i % 2 == 0 { "PROT_READ" } else { "PROT_READ|PROT_WRITE" };
            format!("{p}: v{i} = mmap(0, 4K, {prot}, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok\n")
        })
        .collect()
}

#[test]
fn every_vma_is_a_slab_object_of_the_domain() {
    // kernel/slab.rs: 21 vm_area_structs a page (objsize 192, this host's
    // /proc/slabinfo), charged at each vm_area_alloc()/vm_area_dup(), and
    // up to min_partial = 5 empty slab pages kept (mm/slub.c MIN_PARTIAL).
    let src = format!("domain host native pages=300\nprocess p in host\n{}", unmergeable_vmas("p", 21));
    let checked = script::parse_and_check("t.mms", &src).unwrap();
    let mut r = Runner::new(&checked, effective_variant(&checked, None));
    r.run(&mut |_| {}).unwrap();
    let k = r.world.kernel(0).unwrap();
    assert_eq!(k.nr_vm_area_structs(), 21);
    assert_eq!(k.vm_area_cache_pages(), 1, "21 objects fill one page");

    // The 22nd VMA (a split by mprotect: vm_area_dup) needs a second page;
    // 106 VMAs need ceil(106 / 21) = 6.
    let mut src2 = src.clone();
    // (PROT_EXEC: big does not merge with v20 below it.)
    src2.push_str("p: big = mmap(0, 16K, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok\n");
    src2.push_str("p: mprotect(big + 4K, 4K, PROT_NONE) = 0\n");
    let checked = script::parse_and_check("t.mms", &src2).unwrap();
    let mut r = Runner::new(&checked, effective_variant(&checked, None));
    r.run(&mut |_| {}).unwrap();
    let k = r.world.kernel(0).unwrap();
    // 21 + big, split in three: 24 objects, 2 pages.
    assert_eq!(k.nr_vm_area_structs(), 24);
    assert_eq!(k.vm_area_cache_pages(), 2);

    // 200 VMAs: 10 pages; all unmapped: the 5 empty pages SLUB keeps.
    let mut src3 = format!("domain host native pages=300\nprocess p in host\n{}", unmergeable_vmas("p", 200));
    for i in 0..200 {
        src3.push_str(&format!("p: munmap(v{i}, 4K) = 0\n"));
    }
    let checked = script::parse_and_check("t.mms", &src3).unwrap();
    let mut r = Runner::new(&checked, effective_variant(&checked, None));
    let mut steps = 0;
    r.run(&mut |e| {
        if let Event::Step { .. } = e {
            steps += 1;
        }
    })
    .unwrap();
    assert_eq!(steps, 400);
    let k = r.world.kernel(0).unwrap();
    assert_eq!(k.nr_vm_area_structs(), 0);
    assert_eq!(k.vm_area_cache_pages(), 5, "empty slabs kept: min_partial");
}

#[test]
fn fault_injection_fails_a_fork_slab_page_without_the_oom_killer() {
    // p has 21 VMAs: the slab page is full, so the child's first
    // vm_area_dup() (kernel/fork.c 6.12 line 702) needs a new slab page.
    // fail_page_alloc fails it before the slow path (should_fail_alloc_page
    // in prepare_alloc_pages): fork is -ENOMEM, the OOM killer never runs,
    // and what the fork built (the child's PGD) is given back.
    let src = format!(
        "domain host native pages=300\nprocess p in host\n{}\
         host: fail_page_alloc(4096, 1) = 0\n\
         p: fork() = -ENOMEM\n\
         p: c = fork() = 2\n\
         c: load(v1, 1) = x\"00\"\n",
        unmergeable_vmas("p", 21)
    );
    let (steps, log, bad) = run(&src);
    assert_eq!(bad, 0, "{steps:?}");
    assert!(!log.iter().any(|l| l.contains("oom-killer")), "{log:#?}");
}
