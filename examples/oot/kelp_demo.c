// SPDX-License-Identifier: GPL-2.0
/*
 * kelp_demo: a small out-of-tree module for kelp's example. Reading
 * /proc/kelp_demo prints a greeting from a static function and how often the
 * file was read (a static counter). fix.patch changes what it prints.
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

static int reads;

static noinline const char *kelp_demo_greeting(void)
{
	return "hello from kelp_demo";
}

static int kelp_demo_show(struct seq_file *m, void *v)
{
	reads++;
	seq_printf(m, "%s, read %d time(s)\n", kelp_demo_greeting(), reads);
	return 0;
}

static int __init kelp_demo_init(void)
{
	if (!proc_create_single("kelp_demo", 0444, NULL, kelp_demo_show))
		return -ENOMEM;
	return 0;
}

static void __exit kelp_demo_exit(void)
{
	remove_proc_entry("kelp_demo", NULL);
}

module_init(kelp_demo_init);
module_exit(kelp_demo_exit);
MODULE_DESCRIPTION("kelp example: /proc/kelp_demo");
MODULE_LICENSE("GPL");
