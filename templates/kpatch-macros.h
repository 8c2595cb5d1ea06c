/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kpatch-macros.h: the patch-author API of kpatch, for patches built by kelp.
 *
 * A patch source includes this header and marks callbacks, functions and
 * sections with the macros below. Each macro only leaves a small record in a
 * dedicated ELF section of the compiled object; `kelp diff` reads those
 * sections (they never reach the livepatch module as such) and records what
 * they say in the diff output's .kelp.meta, which `kelp link` turns into the
 * klp_object callbacks.
 *
 * Sections and record layouts (x86-64, little-endian, every record 8-byte
 * aligned; a pointer field is 8 bytes carried by one R_X86_64_64 relocation
 * in the section's .rela section, the stored bytes being zero):
 *
 *   .kpatch.callbacks.pre_patch      struct kpatch_callback_record (16 bytes):
 *   .kpatch.callbacks.post_patch       +0  fn       pointer to the callback
 *   .kpatch.callbacks.pre_unpatch      +8  objname  pointer to a NUL-terminated
 *   .kpatch.callbacks.post_unpatch                  object name, or 0 (the
 *                                                   object the patch source
 *                                                   belongs to)
 *       pre_patch callbacks are `int fn(patch_object *)` (non-zero refuses
 *       the patch); the three others are `void fn(patch_object *)`.
 *       At most one record per kind and object.
 *
 *   .kpatch.ignore.sections          one 8-byte pointer per record, to the
 *                                    NUL-terminated name of a section the
 *                                    diff must not treat as changed
 *   .kpatch.ignore.functions         one 8-byte pointer per record, to a
 *                                    function the diff must not include even
 *                                    when it changed
 *   .kpatch.force                    one 8-byte pointer per record, to a
 *                                    changed function the diff must include
 *                                    although it is otherwise unsafe to patch
 *                                    (e.g. a function on many stacks)
 *
 * Shadow variables use the kernel's klp_shadow API (linux/livepatch.h); the
 * kpatch_shadow_* helpers below are thin wrappers over it with kpatch's
 * argument order.
 *
 * KPATCH_PRINTK and KPATCH_PRINTK_DEFERRED print without making the code
 * around them cold; KPATCH_STATIC_CALL calls through a static call's key
 * instead of its call site. kpatch-syscall.h (included below) gives
 * KPATCH_SYSCALL_DEFINE1..6.
 */
#ifndef _KELP_KPATCH_MACROS_H
#define _KELP_KPATCH_MACROS_H

#include <linux/compiler.h>
#include <linux/livepatch.h>
#include <linux/printk.h>
#include <linux/static_call_types.h>
#include <linux/types.h>

/* What kpatch calls the object a callback runs for. */
typedef struct klp_object patch_object;

/* The record every callback macro emits (layout above). */
struct kpatch_callback_record {
	void *fn;
	const char *objname;
};

#define __KPATCH_CALLBACK(_kind, _fn)						\
	static struct kpatch_callback_record					\
	__PASTE(kpatch_callback_##_kind##_, _fn) __used				\
	__section(".kpatch.callbacks." #_kind) __aligned(8) = {		\
		.fn = (void *)(_fn),						\
		.objname = NULL,						\
	}

/* int fn(patch_object *obj): runs before the object is patched; non-zero refuses. */
#define KPATCH_PRE_PATCH_CALLBACK(_fn)						\
	static inline int (*__PASTE(kpatch_pre_patch_check_, _fn)(void))(patch_object *) \
	{ return _fn; }								\
	__KPATCH_CALLBACK(pre_patch, _fn)

/* void fn(patch_object *obj): runs after the object is patched. */
#define KPATCH_POST_PATCH_CALLBACK(_fn)						\
	static inline void (*__PASTE(kpatch_post_patch_check_, _fn)(void))(patch_object *) \
	{ return _fn; }								\
	__KPATCH_CALLBACK(post_patch, _fn)

/* void fn(patch_object *obj): runs before the object is unpatched. */
#define KPATCH_PRE_UNPATCH_CALLBACK(_fn)					\
	static inline void (*__PASTE(kpatch_pre_unpatch_check_, _fn)(void))(patch_object *) \
	{ return _fn; }								\
	__KPATCH_CALLBACK(pre_unpatch, _fn)

/* void fn(patch_object *obj): runs after the object is unpatched. */
#define KPATCH_POST_UNPATCH_CALLBACK(_fn)					\
	static inline void (*__PASTE(kpatch_post_unpatch_check_, _fn)(void))(patch_object *) \
	{ return _fn; }								\
	__KPATCH_CALLBACK(post_unpatch, _fn)

/* The named section's changes are not part of the patch. */
#define KPATCH_IGNORE_SECTION(_name)						\
	static const char *__UNIQUE_ID(kpatch_ignore_section_) __used		\
	__section(".kpatch.ignore.sections") __aligned(8) = (_name)

/* The function's changes are not part of the patch. */
#define KPATCH_IGNORE_FUNCTION(_fn)						\
	static void *__PASTE(kpatch_ignore_func_, _fn) __used			\
	__section(".kpatch.ignore.functions") __aligned(8) = (void *)(_fn)

/* Patch the function even though the diff considers it unsafe to. */
#define KPATCH_FORCE_UNSAFE(_fn)						\
	static void *__PASTE(kpatch_force_func_, _fn) __used			\
	__section(".kpatch.force") __aligned(8) = (void *)(_fn)

/*
 * Shadow variables: data attached to an existing object (keyed by its
 * address and a patch-chosen id) through the kernel's klp_shadow API.
 */
static inline void *kpatch_shadow_alloc(void *obj, unsigned long id, size_t size, gfp_t gfp)
{
	return klp_shadow_alloc(obj, id, size, gfp, NULL, NULL);
}

static inline void *kpatch_shadow_get_or_alloc(void *obj, unsigned long id, size_t size, gfp_t gfp)
{
	return klp_shadow_get_or_alloc(obj, id, size, gfp, NULL, NULL);
}

static inline void *kpatch_shadow_get(void *obj, unsigned long id)
{
	return klp_shadow_get(obj, id);
}

static inline void kpatch_shadow_free(void *obj, unsigned long id)
{
	klp_shadow_free(obj, id, NULL);
}

static inline void kpatch_shadow_free_all(unsigned long id)
{
	klp_shadow_free_all(id, NULL);
}

/*
 * printk() and printk_deferred() are __cold: gcc treats every path that
 * reaches them as unlikely and may move the code of that path (and the
 * functions it would have inlined there) to .text.unlikely or split it into
 * a .cold part, so a patch that only adds a message can change far more
 * code than the message. Behind a condition gcc cannot see through (a 1 it
 * must keep in a register), only the call itself is the cold path.
 */
#define __KPATCH_UNCOLD(_call)							\
({										\
	int __kpatch_print = 1;							\
	OPTIMIZER_HIDE_VAR(__kpatch_print);					\
	if (__kpatch_print)							\
		_call;								\
})

/* printk() for patch code: the same arguments, the surrounding code stays hot. */
#define KPATCH_PRINTK(_fmt, ...)						\
	__KPATCH_UNCOLD(printk(_fmt, ##__VA_ARGS__))

/*
 * printk_deferred() for patch code (the message is queued to irq_work, for
 * contexts holding the runqueue lock where printk() could deadlock).
 */
#define KPATCH_PRINTK_DEFERRED(_fmt, ...)					\
	__KPATCH_UNCOLD(printk_deferred(_fmt, ##__VA_ARGS__))

/*
 * KPATCH_STATIC_CALL(name)(args...) instead of static_call(name)(args...):
 * an indirect call through the function the static call's key points to now.
 * A static_call() site in patch code needs a .static_call_sites entry that
 * the kernel reads when the livepatch module loads; when the key lives in a
 * module, that entry would name a symbol only a .klp.rela section can
 * supply, too late for the loader. Calling through the key has no such entry.
 */
#define KPATCH_STATIC_CALL(name)						\
	((typeof(&STATIC_CALL_TRAMP(name)))READ_ONCE(STATIC_CALL_KEY(name).func))

#include "kpatch-syscall.h"

#endif /* _KELP_KPATCH_MACROS_H */
