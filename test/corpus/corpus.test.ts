/**
 * A fixed sample of issue 13's corpus (npm run corpus --pair 6.1): real fixes
 * between Debian's linux-source-6.1 6.1.170-3 and 6.1.176-1, one patch per
 * changed .c file as test/corpus/cut.ts cuts them (test/corpus/fixtures),
 * chosen to cover every outcome. Each is built with `kelp build --release
 * 6.1.0-47-amd64`; the built ones are verified together in one boot of that
 * kernel (batch.ts: kelp check, then each loaded, enabled with its transition
 * complete, and unloaded in turn).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchTarget, type TargetInfo } from '../../src/target/fetch.js';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { targetPackages } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { buildCase, preloadOf, type Built } from './case.js';
import { verifyBatch, type VerifyCase } from './batch.js';
import type { Outcome } from './table.js';
import { cutCorpus, includesHeader, reachedHeaders, relatedHunks } from './cut.js';

const RELEASE = '6.1.0-47-amd64';

/** The patch (fixtures/), the outcome, and what the detail must say. */
const CASES: Array<{ patch: string; outcome: Outcome; detail?: RegExp }> = [
  // A module that loads in the VM (no PCI device needed).
  { patch: 'net-pcnet32.patch', outcome: 'verified' },
  // vmlinux.
  { patch: 'bpf-helpers.patch', outcome: 'verified' },
  // lib/ is ordinary vmlinux code (it was refused as a whole).
  { patch: 'mpi-mpicoder.patch', outcome: 'verified' },
  // 6.12.117's ACPICA fix, which applies to 6.1.170 as well: it references
  // _acpi_module_name, of which vmlinux has over a hundred (once refused as ambiguous).
  { patch: 'acpica-evhandler.patch', outcome: 'verified' },
  // A registered xt_match table becomes an array, registered in init code.
  { patch: 'netfilter-xt_physdev.patch', outcome: 'refused', detail: /^data-changed, init-code.*physdev_mt_reg: existing data changed/ },
  // sizeof(phys_addr_t *) == sizeof(phys_addr_t) on x86-64: the same code.
  { patch: 'efi-capsule-loader.patch', outcome: 'no functional change', detail: /changes no function of drivers\/firmware\/efi\/capsule-loader\.o/ },
  // Calls hci_req_sync_lock(), which the upstream fix added to another file.
  { patch: 'bluetooth-btintel.patch', outcome: 'does not compile alone', detail: /implicit declaration of function \W*hci_req_sync_lock/ },
];

let pre: PrereqStatus;
let target: TargetInfo;
const tmp = makeTmpDir('corpus');
afterAll(() => tmp.cleanup());

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages({ source: true }));
  if (pre.ok) target = await fetchTarget({ release: RELEASE, source: true });
}, 1_800_000);

test('a header comes along when the file includes it by a quoted path, not when a system header has its name', () => {
  const text = '#include <linux/slab.h>\n#include "internal.h"\n# include "../net/x.h"\n';
  expect(includesHeader('mm/memory_hotplug.c', text, 'mm/internal.h')).toBe(true);
  expect(includesHeader('mm/memory_hotplug.c', text, 'mm/slab.h')).toBe(false);
  expect(includesHeader('mm/memory_hotplug.c', text, 'net/x.h')).toBe(true);
});

test('a header the file reaches through another quoted include comes along (super.c, ext4.h, extents_status.h); system headers and missing files end the walk', () => {
  const texts: Record<string, string> = {
    'fs/ext4/ext4.h': '#include <linux/fs.h>\n#include "extents_status.h"\n#include "fast_commit.h"\n',
    'fs/ext4/extents_status.h': '#include "ext4.h"\nstruct extent_status { int es_len; };\n',
    'fs/ext4/fast_commit.h': 'struct ext4_fc_tl;\n',
  };
  const reached = reachedHeaders('fs/ext4/super.c', '#include <linux/slab.h>\n#include "ext4.h"\n#include "missing.h"\n', (h) => texts[h]);
  expect([...reached].sort()).toEqual(['fs/ext4/ext4.h', 'fs/ext4/extents_status.h', 'fs/ext4/fast_commit.h']);
  // relatedHunks takes the header through the reached set, not only a direct include.
  const older = 'struct extent_status {\n\tint es_len;\n};\n';
  const newer = 'struct extent_status {\n\tint es_len;\n\tint es_seq;\n};\n';
  const headerDiff = diffTexts('fs/ext4/extents_status.h', older, newer);
  const superDiff = diffTexts('fs/ext4/super.c', 'int f(struct extent_status *es)\n{\n\treturn 0;\n}\n', 'int f(struct extent_status *es)\n{\n\treturn es->es_seq;\n}\n');
  const source = '#include "ext4.h"\n';
  expect(relatedHunks('fs/ext4/super.c', source, superDiff, 'fs/ext4/extents_status.h', headerDiff, newer)).toBe('');
  expect(relatedHunks('fs/ext4/super.c', source, superDiff, 'fs/ext4/extents_status.h', headerDiff, newer, reached)).toContain('+\tint es_seq;');
});

/** `diff -up` of two texts of tree-relative `rel` (a/ and b/ labels), as the cut makes it. */
function diffTexts(rel: string, older: string, newer: string): string {
  writeFileSync(join(tmp.dir, 'older'), older);
  writeFileSync(join(tmp.dir, 'newer'), newer);
  const r = spawnSync('diff', ['-up', '--label', `a/${rel}`, '--label', `b/${rel}`, join(tmp.dir, 'older'), join(tmp.dir, 'newer')], { encoding: 'utf8' });
  expect(r.status).toBe(1);
  return r.stdout;
}

// drivers/nvme/target/nvmet.h between 6.12.107 and 6.12.117 (shortened): three
// upstream fixes change it. auth.c's fix adds auth_expiry_active and
// nvmet_auth_sq_destroy(); max_qid and nvmet_req_ctrl() are other fixes'.
const NVMET_OLD = `struct nvmet_sq {
	struct nvmet_ctrl	*ctrl;
	struct percpu_ref	ref;
	u16			qid;
	u16			size;
	u32			sqhd;
	bool			sqhd_disabled;
#ifdef CONFIG_NVME_TARGET_AUTH
	bool			authenticated;
	struct delayed_work	auth_expired_work;
	u16			dhchap_tid;
	u8			dhchap_status;
	u8			dhchap_step;
	u8			*dhchap_c1;
	u8			*dhchap_c2;
	u32			dhchap_s1;
	u32			dhchap_s2;
	u8			*dhchap_skey;
	int			dhchap_skey_len;
#endif
	struct completion	free_done;
	struct completion	confirm_done;
};

struct nvmet_ctrl {
	struct nvmet_subsys	*subsys;
	struct nvmet_sq		**sqs;

	bool			reset_tbkas;

	struct mutex		lock;
	u64			cap;
	u32			cc;
	u32			csts;

	uuid_t			hostid;
	u16			cntlid;
	u32			kato;

	struct nvmet_port	*port;

	u32			aen_enabled;
	unsigned long		aen_masked;
};

static inline struct nvmet_subsys *nvmet_req_subsys(struct nvmet_req *req)
{
	return req->sq->ctrl->subsys;
}

static inline bool nvmet_is_disc_subsys(struct nvmet_subsys *subsys)
{
    return subsys->type != NVME_NQN_NVME;
}

#ifdef CONFIG_NVME_TARGET_AUTH
u8 nvmet_setup_auth(struct nvmet_ctrl *ctrl);
void nvmet_auth_sq_init(struct nvmet_sq *sq);
void nvmet_destroy_auth(struct nvmet_ctrl *ctrl);
void nvmet_auth_sq_free(struct nvmet_sq *sq);
int nvmet_setup_dhgroup(struct nvmet_ctrl *ctrl, u8 dhgroup_id);
bool nvmet_check_auth_status(struct nvmet_req *req);
#else
static inline void nvmet_auth_sq_init(struct nvmet_sq *sq)
{
}
static inline void nvmet_destroy_auth(struct nvmet_ctrl *ctrl) {};
static inline void nvmet_auth_sq_free(struct nvmet_sq *sq) {};
static inline bool nvmet_check_auth_status(struct nvmet_req *req)
{
	return true;
}
#endif
`;
const NVMET_NEW = NVMET_OLD
  .replace('#ifdef CONFIG_NVME_TARGET_AUTH\n\tbool\t\t\tauthenticated;\n\tstruct delayed_work\tauth_expired_work;\n',
    '#ifdef CONFIG_NVME_TARGET_AUTH\n\tstruct mutex\t\tauth_lock;\n\tbool\t\t\tauthenticated;\n\tstruct delayed_work\tauth_expired_work;\n\tbool\t\t\tauth_expiry_active;\n')
  .replace('\tu16\t\t\tcntlid;\n', '\tu16\t\t\tcntlid;\n\tu16\t\t\tmax_qid;\n')
  .replace('static inline bool nvmet_is_disc_subsys', 'static inline struct nvmet_ctrl *nvmet_req_ctrl(struct nvmet_req *req)\n{\n\treturn req->sq->ctrl;\n}\n\nstatic inline bool nvmet_is_disc_subsys')
  .replace('void nvmet_auth_sq_free(struct nvmet_sq *sq);\n', 'void nvmet_auth_sq_free(struct nvmet_sq *sq);\nvoid nvmet_auth_sq_destroy(struct nvmet_sq *sq);\n')
  .replace('static inline void nvmet_auth_sq_free(struct nvmet_sq *sq) {};\n', 'static inline void nvmet_auth_sq_free(struct nvmet_sq *sq) {};\nstatic inline void nvmet_auth_sq_destroy(struct nvmet_sq *sq) {};\n');

// The 6.12.117 fix of drivers/nvme/target/auth.c (its diff as the cut makes it).
const AUTH_C_DIFF = `--- a/drivers/nvme/target/auth.c
+++ b/drivers/nvme/target/auth.c
@@ -232,6 +232,7 @@ out_unlock:
 
 void nvmet_auth_sq_free(struct nvmet_sq *sq)
 {
+	sq->auth_expiry_active = false;
 	cancel_delayed_work(&sq->auth_expired_work);
 	kfree(sq->dhchap_c1);
 	sq->dhchap_c1 = NULL;
@@ -239,6 +240,13 @@ void nvmet_auth_sq_free(struct nvmet_sq
 	sq->dhchap_c2 = NULL;
 	kfree(sq->dhchap_skey);
 	sq->dhchap_skey = NULL;
+	sq->dhchap_skey_len = 0;
+}
+
+void nvmet_auth_sq_destroy(struct nvmet_sq *sq)
+{
+	cancel_delayed_work_sync(&sq->auth_expired_work);
+	nvmet_auth_sq_free(sq);
 }
 
 void nvmet_destroy_auth(struct nvmet_ctrl *ctrl)
`;

// fs/afs between 6.12.107 and 6.12.117 (shortened): fsclient.c follows a netfs
// API change, while internal.h gains an rcu_head in afs_super_info and
// afs_get_call() for two other fixes.
const AFS_OLD = `struct afs_server_list {
	struct rcu_head		rcu;
	refcount_t		usage;
	bool			attached;	/* T if attached to servers */
	enum afs_ro_replicating	ro_replicating;	/* RW->RO update (probably) in progress */
	unsigned char		nr_servers;
};

struct afs_super_info {
	struct net		*net_ns;	/* Network namespace */
	struct afs_cell		*cell;		/* The cell in which the volume resides */
	struct afs_volume	*volume;	/* volume record */
	enum afs_flock_mode	flock_mode:8;	/* File locking emulation mode */
	bool			dyn_root;	/* True if dynamic root */
};

static inline struct afs_super_info *AFS_FS_S(struct super_block *sb)
{
	return sb->s_fs_info;
}

extern void afs_dump_edestaddrreq(const struct afs_operation *);

/*
 * rxrpc.c
 */
extern struct workqueue_struct *afs_async_calls;

extern int __net_init afs_open_socket(struct afs_net *);
extern void __net_exit afs_close_socket(struct afs_net *);
extern void afs_charge_preallocation(struct work_struct *);
extern void afs_put_call(struct afs_call *);
void afs_deferred_put_call(struct afs_call *call);
void afs_make_call(struct afs_call *call, gfp_t gfp);
void afs_wait_for_call_to_complete(struct afs_call *call);
`;
const AFS_NEW = AFS_OLD
  .replace('\tbool\t\t\tdyn_root;\t/* True if dynamic root */\n', '\tbool\t\t\tdyn_root;\t/* True if dynamic root */\n\t/* afs_atcell_get_link() reads ->net_ns in rcu pathwalk */\n\tstruct rcu_head\t\trcu;\n')
  .replace('extern void afs_put_call(struct afs_call *);\n', 'extern void afs_put_call(struct afs_call *);\nextern struct afs_call *afs_get_call(struct afs_call *call, enum afs_call_trace why);\n');
const FSCLIENT_C_DIFF = `--- a/fs/afs/fsclient.c
+++ b/fs/afs/fsclient.c
@@ -352,7 +352,7 @@ static int afs_deliver_fs_fetch_data(str
 		ret = afs_extract_data(call, true);
 		if (req->subreq) {
 			req->subreq->transferred += count_before - call->iov_len;
-			netfs_read_subreq_progress(req->subreq, false);
+			netfs_read_subreq_progress(req->subreq);
 		}
 		if (ret < 0)
 			return ret;
`;

// drivers/platform/x86/hp/hp-bioscfg between 6.12.107 and 6.12.117 (shortened): one fix gives
// hp_populate_string_package_data() an element count; its name is on neither diff's changed lines.
const BIOSCFG_OLD = `enum hp_wmi_data_elements {
	/* Common elements */
	NAME = 0,
	VALUE = 1,
	PATH = 2,
	IS_READONLY = 3,
	DISPLAY_IN_UI = 4,
	REQUIRES_PHYSICAL_PRESENCE = 5,
	SEQUENCE = 6,
	PREREQUISITES_SIZE = 7,
	PREREQUISITES = 8,
	SECURITY_LEVEL = 9,
	PSWD_ELEM_CNT = 15,
};

#define GET_INSTANCE_ID(type)						\
	static int get_##type##_instance_id(struct kobject *kobj)	\
	{								\
		int i;							\
									\
		for (i = 0; i <= bioscfg_drv.type##_instances_count; i++) { \
			if (!strcmp(kobj->name, bioscfg_drv.type##_data[i].attr_name_kobj->name)) \
				return i;				\
		}							\
		return -EIO;						\
	}

/* String attributes */
int hp_populate_string_buffer_data(u8 *buffer_ptr, u32 *buffer_size,
				   int instance_id,
				   struct kobject *attr_name_kobj);
int hp_alloc_string_data(void);
void hp_exit_string_attributes(void);
int hp_populate_string_package_data(union acpi_object *str_obj,
				    int instance_id,
				    struct kobject *attr_name_kobj);
`;
const BIOSCFG_NEW = BIOSCFG_OLD
  .replace('\tPSWD_ELEM_CNT = 15,\n', '\tPSWD_ELEM_CNT = 15,\n\n\t/* Minimum elements shared by all attribute types (NAME..SECURITY_LEVEL) */\n\tCOMMON_ELEM_CNT = SECURITY_LEVEL + 1,\n')
  .replace('int hp_populate_string_package_data(union acpi_object *str_obj,\n', 'int hp_populate_string_package_data(union acpi_object *str_obj,\n\t\t\t\t    int str_obj_count,\n');
const STRING_ATTRIBUTES_C_DIFF = `--- a/drivers/platform/x86/hp/hp-bioscfg/string-attributes.c
+++ b/drivers/platform/x86/hp/hp-bioscfg/string-attributes.c
@@ -263,10 +265,12 @@ exit_string_package:
  * Populate all properties of an instance under string attribute
  *
  * @string_obj: ACPI object with string data
+ * @string_obj_count: Number of elements in @string_obj
  * @instance_id: The instance to enumerate
  * @attr_name_kobj: The parent kernel object
  */
 int hp_populate_string_package_data(union acpi_object *string_obj,
+				    int string_obj_count,
 				    int instance_id,
 				    struct kobject *attr_name_kobj)
 {
@@ -275,7 +279,7 @@ int hp_populate_string_package_data(unio
 	string_data->attr_name_kobj = attr_name_kobj;
 
 	hp_populate_string_elements_from_package(string_obj,
-						 string_obj->package.count,
+						 string_obj_count,
 						 instance_id);
 
 	hp_update_attribute_permissions(string_data->common.is_readonly,
`;

test("a changed header's hunks come along when they touch a name the file's changed lines use, renumbered; another fix's do not", () => {
  const nvmetDiff = diffTexts('drivers/nvme/target/nvmet.h', NVMET_OLD, NVMET_NEW);
  expect(nvmetDiff.match(/^@@ /gm)).toHaveLength(5);
  const authSource = '#include <linux/nvme-auth.h>\n#include "nvmet.h"\n';
  const part = relatedHunks('drivers/nvme/target/auth.c', authSource, AUTH_C_DIFF, 'drivers/nvme/target/nvmet.h', nvmetDiff, NVMET_NEW);
  // nvmet_sq's new members (auth_expiry_active; auth_lock shares the hunk) and both nvmet_auth_sq_destroy() declarations.
  expect(part).toContain('+\tbool\t\t\tauth_expiry_active;\n');
  expect(part.match(/^\+.*nvmet_auth_sq_destroy/gm)).toHaveLength(2);
  expect(part).not.toContain('max_qid');
  expect(part).not.toContain('nvmet_req_ctrl');
  // What is left applies to the older header as it is (the later hunks' line numbers shifted).
  writeFileSync(join(tmp.dir, 'nvmet.h'), NVMET_OLD);
  writeFileSync(join(tmp.dir, 'nvmet.patch'), part);
  const r = spawnSync('patch', ['-F0', join(tmp.dir, 'nvmet.h'), join(tmp.dir, 'nvmet.patch')], { encoding: 'utf8' });
  expect({ status: r.status, offset: /offset|fuzz/i.test(r.stdout) }).toEqual({ status: 0, offset: false });
  const patched = readFileSync(join(tmp.dir, 'nvmet.h'), 'utf8');
  expect(patched).toContain('auth_expiry_active');
  expect(patched).not.toContain('max_qid');

  // A file that does not include the header takes none of it.
  expect(relatedHunks('drivers/nvme/target/auth.c', '#include <linux/nvme-auth.h>\n', AUTH_C_DIFF, 'drivers/nvme/target/nvmet.h', nvmetDiff, NVMET_NEW)).toBe('');

  // fsclient.c's change names nothing internal.h's change touches: `rcu` and `rcu_head` are on its unchanged lines too.
  const afsDiff = diffTexts('fs/afs/internal.h', AFS_OLD, AFS_NEW);
  const fsclient = '#include <linux/sched.h>\n#include "internal.h"\n#include "afs_fs.h"\n';
  expect(relatedHunks('fs/afs/fsclient.c', fsclient, FSCLIENT_C_DIFF, 'fs/afs/internal.h', afsDiff, AFS_NEW)).toBe('');
  // A change that calls afs_get_call() takes its declaration, not the rcu_head.
  const caller = FSCLIENT_C_DIFF.replace('+\t\t\tnetfs_read_subreq_progress(req->subreq);', '+\t\t\tafs_get_call(call, afs_call_trace_get);');
  const afsPart = relatedHunks('fs/afs/fsclient.c', fsclient, caller, 'fs/afs/internal.h', afsDiff, AFS_NEW);
  expect(afsPart).toContain('+extern struct afs_call *afs_get_call(');
  expect(afsPart).not.toContain('rcu_head');

  // A parameter added to a declaration whose name is on a context line: the function the changed lines are in.
  const bioscfgDiff = diffTexts('drivers/platform/x86/hp/hp-bioscfg/bioscfg.h', BIOSCFG_OLD, BIOSCFG_NEW);
  const strings = '#include "bioscfg.h"\n';
  const bioscfgPart = relatedHunks('drivers/platform/x86/hp/hp-bioscfg/string-attributes.c', strings, STRING_ATTRIBUTES_C_DIFF, 'drivers/platform/x86/hp/hp-bioscfg/bioscfg.h', bioscfgDiff, BIOSCFG_NEW);
  expect(bioscfgPart).toContain('+\t\t\t\t    int str_obj_count,\n');
  expect(bioscfgPart).not.toContain('COMMON_ELEM_CNT');
  // A change inside a function's body is not one of its head: the call's arguments tie nothing to the declaration.
  const body = STRING_ATTRIBUTES_C_DIFF.slice(STRING_ATTRIBUTES_C_DIFF.indexOf('@@ -275'));
  expect(relatedHunks('drivers/platform/x86/hp/hp-bioscfg/string-attributes.c', strings, `--- a/x\n+++ b/x\n${body}`, 'drivers/platform/x86/hp/hp-bioscfg/bioscfg.h', bioscfgDiff, BIOSCFG_NEW)).toBe('');
});

test('a changed .c file reached through a symbolic link is patched where the link points, and the case stays in the sample', () => {
  const trees = join(tmp.dir, 'link-trees');
  for (const [t, body] of [['a', 'return 1;'], ['b', 'return 2;']]) {
    mkdirSync(join(trees, t, 'kernel', 'bpf'), { recursive: true });
    mkdirSync(join(trees, t, 'tools', 'bpf'), { recursive: true });
    writeFileSync(join(trees, t, 'kernel', 'bpf', 'disasm.c'), `#include "disasm.h"\n\nint print_insn(int x)\n{\n\tint y = x * 2;\n\n\ty += 3;\n\tif (y > 7)\n\t\t${body}\n\treturn 0;\n}\n`);
    symlinkSync('../../kernel/bpf/disasm.c', join(trees, t, 'tools', 'bpf', 'disasm.c'));
  }
  const out = join(trees, 'patches');
  const { cases, total } = cutCorpus(join(trees, 'a'), join(trees, 'b'), new Set(['print_insn']), out, { maxLines: 60, seed: 1, max: 10 });
  expect(total).toBe(2);
  const byPatch = new Map(cases.map((c) => [c.patch, c]));
  const viaLink = byPatch.get(join(out, 'tools__bpf__disasm.patch'))!;
  expect(viaLink.file).toBe('kernel/bpf/disasm.c');
  expect(readFileSync(viaLink.patch, 'latin1')).toMatch(/^--- a\/kernel\/bpf\/disasm\.c\n\+\+\+ b\/kernel\/bpf\/disasm\.c\n/);
  const r = spawnSync('patch', ['-p1', '--dry-run', '-F0', '-i', viaLink.patch], { cwd: join(trees, 'a'), encoding: 'utf8' });
  expect([r.status, r.stderr]).toEqual([0, '']);
});

test('the sample covers every outcome'
, () => {
  expect(new Set(CASES.map((c) => c.outcome))).toEqual(new Set(['verified', 'refused', 'no functional change', 'does not compile alone']));
});

test('each case builds to its outcome; the built ones verify in one boot', async () => {
  if (skipUnlessReady(pre)) return;
  const built = new Map<string, Built>();
  for (const c of CASES) built.set(c.patch, buildCase(join(REPO_ROOT, 'test', 'corpus', 'fixtures', c.patch), RELEASE, join(tmp.dir, c.patch)));
  const toVerify: VerifyCase[] = [];
  for (const [patch, b] of built) {
    if (b.outcome === 'built') toVerify.push({ id: patch, ko: b.ko!, moduleName: b.moduleName!, preload: preloadOf(b.patched ?? [], target.modules) });
  }
  const verdicts = await verifyBatch({ kernel: target.kernel, symbols: target.systemMap, kdir: target.kdir }, toVerify, () => {}, toVerify.length);
  const got = CASES.map((c) => {
    const b = built.get(c.patch)!;
    const v = verdicts.get(c.patch);
    const outcome = v === undefined ? b.outcome : v.ok ? 'verified' : 'failed';
    return { patch: c.patch, outcome, detail: v === undefined ? b.detail : v.detail };
  });
  expect(got).toEqual(CASES.map((c) => ({ patch: c.patch, outcome: c.outcome, detail: c.detail === undefined ? expect.any(String) : expect.stringMatching(c.detail) })));
}, 3_600_000);
