"""bench/reader_profile's native split (issue 60): which step a perf sample's call chain is."""

from __future__ import annotations

from bench.reader_profile import _native


def test_the_profile_names_a_write_whose_syscall_frame_was_inlined():
    # This kernel dispatches system calls from its own table: a fragment write's chain runs
    # copy_folio_from_iter_atomic ... do_pwritev, do_syscall_64, with no __x64_sys_pwritev2. It
    # was counted as "kernel (scheduling, irq, faults)", 0.080 % of a core a camera at 96 (design/0302).
    kernel = "[kernel.kallsyms]"
    chain = [("copy_folio_from_iter_atomic", kernel), ("generic_perform_write", kernel),
             ("vfs_writev", kernel), ("do_pwritev", kernel), ("do_syscall_64", kernel),
             ("pwritev64v2", "/usr/lib/x86_64-linux-gnu/libc.so.6")]
    assert _native(chain) == "sys pwrite64"
    assert _native([("tcp_recvmsg", kernel), ("__x64_sys_recvfrom", kernel)]) == "sys recvfrom"
    assert _native([("finish_task_switch.isra.0", kernel), ("__schedule", kernel)]) == \
        "kernel (scheduling, irq, faults)"
