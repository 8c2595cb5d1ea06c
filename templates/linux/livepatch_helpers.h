/* SPDX-License-Identifier: GPL-2.0 */
/*
 * <linux/livepatch_helpers.h> for kernels that do not have it.
 *
 * Linux 6.19 added include/linux/livepatch_helpers.h, the source-level API of
 * patches built by klp-build: callback registration (KLP_PRE_PATCH_CALLBACK
 * and the three others), KLP_STATIC_CALL and KLP_SYSCALL_DEFINE1..6. kelp
 * build puts templates/ on the compiler's include path after the kernel's own
 * directories, so a kernel that has the header uses its own, and an older one
 * (Debian's 6.1 and 6.12) finds this one: a klp-build-style patch builds
 * unchanged on either.
 *
 * The macros map onto kelp's kpatch API (kpatch-macros.h), which kelp diff
 * and kelp link understand: a callback becomes a .kpatch.callbacks.* record
 * for the object the patch source belongs to (KLP_OBJNAME, the same object
 * klp-build registers it for), and the syscall and static-call helpers are
 * the kpatch ones.
 */
#ifndef _LINUX_LIVEPATCH_HELPERS_H
#define _LINUX_LIVEPATCH_HELPERS_H

#include <linux/livepatch.h>
#include <linux/syscalls.h>
#include "kpatch-macros.h"

/* The object a patch source belongs to: its module, or vmlinux. */
#ifdef MODULE
#define KLP_OBJNAME __KBUILD_MODNAME
#else
#define KLP_OBJNAME vmlinux
#endif

/* The callback types of struct klp_callbacks (named only from 6.19 on). */
typedef int (*klp_pre_patch_t)(struct klp_object *obj);
typedef void (*klp_post_patch_t)(struct klp_object *obj);
typedef void (*klp_pre_unpatch_t)(struct klp_object *obj);
typedef void (*klp_post_unpatch_t)(struct klp_object *obj);

/* int fn(struct klp_object *): before the object is patched; non-zero refuses the patch. */
#define KLP_PRE_PATCH_CALLBACK(func)	KPATCH_PRE_PATCH_CALLBACK(func)
/* void fn(struct klp_object *): after the object is patched. */
#define KLP_POST_PATCH_CALLBACK(func)	KPATCH_POST_PATCH_CALLBACK(func)
/* void fn(struct klp_object *): before the object is unpatched. */
#define KLP_PRE_UNPATCH_CALLBACK(func)	KPATCH_PRE_UNPATCH_CALLBACK(func)
/* void fn(struct klp_object *): after the object is unpatched. */
#define KLP_POST_UNPATCH_CALLBACK(func)	KPATCH_POST_UNPATCH_CALLBACK(func)

/* KLP_STATIC_CALL(name)(args...): an indirect call through the static call's key. */
#define KLP_STATIC_CALL(name)		KPATCH_STATIC_CALL(name)

/* KLP_SYSCALL_DEFINEn(name, ...): SYSCALL_DEFINEn for a patched system call (see kpatch-syscall.h). */
#define KLP_SYSCALL_DEFINE1(name, ...)	KPATCH_SYSCALL_DEFINE1(name, __VA_ARGS__)
#define KLP_SYSCALL_DEFINE2(name, ...)	KPATCH_SYSCALL_DEFINE2(name, __VA_ARGS__)
#define KLP_SYSCALL_DEFINE3(name, ...)	KPATCH_SYSCALL_DEFINE3(name, __VA_ARGS__)
#define KLP_SYSCALL_DEFINE4(name, ...)	KPATCH_SYSCALL_DEFINE4(name, __VA_ARGS__)
#define KLP_SYSCALL_DEFINE5(name, ...)	KPATCH_SYSCALL_DEFINE5(name, __VA_ARGS__)
#define KLP_SYSCALL_DEFINE6(name, ...)	KPATCH_SYSCALL_DEFINE6(name, __VA_ARGS__)

#endif /* _LINUX_LIVEPATCH_HELPERS_H */
