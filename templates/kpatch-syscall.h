/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kpatch-syscall.h: KPATCH_SYSCALL_DEFINE1..6, for patches built by kelp.
 *
 * A patch that changes a system call replaces SYSCALL_DEFINEn(name, ...)
 * with KPATCH_SYSCALL_DEFINEn(name, ...), arguments and body unchanged.
 *
 * On x86-64 SYSCALL_DEFINEn makes three functions: the pt_regs entry points
 * __x64_sys_<name> (and __ia32_sys_<name> with IA32 emulation), which the
 * syscall table calls; __se_sys_<name>, which sign-extends the arguments; and
 * __do_sys_<name>, the body. The body is `static inline`, and the kernel's
 * inline implies notrace: it has no __fentry__ call and cannot be replaced
 * itself. The entry points can: they are ordinary functions with __fentry__,
 * and (the other two being inlined or called only from them) replacing them
 * replaces the syscall. `kelp diff` does that for a changed __do_sys_<name>
 * ("replaced through its callers").
 *
 * KPATCH_SYSCALL_DEFINEn expands to the target kernel's own wrapper macro
 * (__SYSCALL_DEFINEx from <asm/syscall_wrapper.h>, so the entry points have
 * exactly the ABI of the kernel being patched) without SYSCALL_METADATA: the
 * syscall tracing records (__syscalls_metadata, the enter/exit trace events)
 * belong to the original syscall and must not be registered a second time
 * by the livepatch module.
 */
#ifndef _KELP_KPATCH_SYSCALL_H
#define _KELP_KPATCH_SYSCALL_H

#include <linux/syscalls.h>

#ifndef CONFIG_X86_64
#error "kpatch-syscall.h: kelp builds livepatches for x86-64 kernels only"
#endif

#define KPATCH_SYSCALL_DEFINE1(name, ...) __SYSCALL_DEFINEx(1, _##name, __VA_ARGS__)
#define KPATCH_SYSCALL_DEFINE2(name, ...) __SYSCALL_DEFINEx(2, _##name, __VA_ARGS__)
#define KPATCH_SYSCALL_DEFINE3(name, ...) __SYSCALL_DEFINEx(3, _##name, __VA_ARGS__)
#define KPATCH_SYSCALL_DEFINE4(name, ...) __SYSCALL_DEFINEx(4, _##name, __VA_ARGS__)
#define KPATCH_SYSCALL_DEFINE5(name, ...) __SYSCALL_DEFINEx(5, _##name, __VA_ARGS__)
#define KPATCH_SYSCALL_DEFINE6(name, ...) __SYSCALL_DEFINEx(6, _##name, __VA_ARGS__)

#endif /* _KELP_KPATCH_SYSCALL_H */
