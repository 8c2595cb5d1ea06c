# kelp: lists what a configured kernel tree builds, by evaluating each
# directory's Kbuild/Makefile with the tree's include/config/auto.conf (run
# from the top of the tree; KELP_DIRS names the top-level directories, with
# V (vmlinux) or M (modules only) before each: "V:kernel V:fs M:samples").
# Nothing is built: the work happens while make reads this file.
#
# Output, one record a line:
#   D dir                  a visited directory (V or M context)
#   Y obj [part...]        an object linked into vmlinux (a composite's parts)
#   M obj [part...]        a module (a composite's parts)
#   L obj                  a lib-y object (archived; linked when referenced)
#   F dir flags...         the directory's ccflags (its own and inherited)
#   C obj flags...         CFLAGS_<file>.o of an object
kelp-list: ; @:
.PHONY: kelp-list

srctree := .
objtree := .
KBUILD_EXTMOD :=
include include/config/auto.conf
include scripts/Kbuild.include

# Compiler probes choose flags, never objects; they would run the compiler
# thousands of times here.
cc-option = $(2)
cc-option-yn = n
cc-disable-warning =
cc-ifversion = $(4)
as-option = $(2)
as-instr = $(3)
ld-option = $(2)
ld-ifversion = $(4)
rustc-option = $(2)

kelp-space := $(subst ,, )

# Forgets what the previous directory's Makefile defined (composite parts,
# flags), so names reused across directories do not leak.
define kelp-clear
$(foreach v,$(filter %-y %-m %-objs %- CFLAGS_% ccflags-% subdir-% asflags-% lib-%,$(.VARIABLES)),$(if $(filter file override,$(origin $(v))),$(eval undefine $(v))))
endef

# The parts of composite object $(1) (foo.o): foo-objs foo-y [foo-m]; $(2) is "m" for modules.
kelp-parts = $(strip $($(1:.o=-objs)) $($(1:.o=-y)) $(if $(2),$($(1:.o=-m))))
kelp-composite = $(strip $($(1:.o=-objs)) $($(1:.o=-y)) $(if $(2),$($(1:.o=-m))) $($(1:.o=-)))

# A subdirectory's path: "." + "kernel" is "kernel".
kelp-join = $(if $(filter .,$(1)),$(2),$(1)/$(2))

# $(1) directory, $(2) V or M, $(3) inherited subdir-ccflags
define kelp-visit
$(kelp-clear)
$(eval obj := $(1))
$(eval src := $(1))
$(eval kelp-file := $(if $(wildcard $(1)/Kbuild),$(1)/Kbuild,$(1)/Makefile))
$(if $(wildcard $(kelp-file)),$(eval include $(kelp-file)),$(info X $(1)))
$(info D $(1) $(2))
$(eval kelp-y := $(if $(filter V,$(2)),$(filter-out %/,$(obj-y))))
$(eval kelp-m := $(filter-out %/ $(obj-y),$(obj-m)))
$(eval kelp-lib := $(if $(filter V,$(2)),$(if $(filter $(1),$(KELP_LIBDIRS)),$(filter-out $(obj-y),$(sort $(lib-y) $(lib-m))))))
$(foreach o,$(kelp-y),$(info Y $(1)/$(o) $(if $(call kelp-composite,$(o)),$(addprefix $(1)/,$(call kelp-parts,$(o))) $(if $(call kelp-parts,$(o)),,-))))
$(foreach o,$(kelp-m),$(info M $(1)/$(o) $(if $(call kelp-composite,$(o),m),$(addprefix $(1)/,$(call kelp-parts,$(o),m)) $(if $(call kelp-parts,$(o),m),,-))))
$(foreach o,$(kelp-lib),$(info L $(1)/$(o)))
$(info F $(1) $(3) $(subdir-ccflags-y) $(ccflags-y) $(asflags-y))
$(foreach v,$(filter-out CFLAGS_REMOVE_%,$(filter CFLAGS_%.o,$(.VARIABLES))),$(if $(filter file override,$(origin $(v))),$(info C $(1)/$(v:CFLAGS_%=%) $($(v)))))
$(eval kelp-subv-$(1) := $(if $(filter V,$(2)),$(sort $(patsubst %/,%,$(filter %/,$(obj-y))))))
$(eval kelp-subm-$(1) := $(filter-out $(kelp-subv-$(1)),$(sort $(patsubst %/,%,$(filter %/,$(obj-y) $(obj-m))))))
$(eval kelp-inh-$(1) := $(3) $(subdir-ccflags-y))
$(foreach s,$(kelp-subv-$(1)),$(call kelp-visit,$(call kelp-join,$(1),$(s)),V,$(kelp-inh-$(1))))
$(foreach s,$(kelp-subm-$(1)),$(call kelp-visit,$(call kelp-join,$(1),$(s)),M,$(kelp-inh-$(1))))
endef

$(foreach d,$(KELP_DIRS),$(call kelp-visit,$(patsubst %/,%,$(word 2,$(subst :, ,$(d)))),$(word 1,$(subst :, ,$(d))),))
