// SPDX-License-Identifier: GPL-2.0-only
/*
 * /init of the CMA debugfs replay (tests/cma_replay.py, issue 16): replays alloc/free steps
 * through /sys/kernel/debug/cma/<area>/{alloc,free} and prints each area's bitmap, `used` and
 * `maxchunk` before the first step and after every step, then powers the machine off.
 *
 * Built against the kernel tree's nolibc (tools/include/nolibc) with the tree's own UAPI headers
 * (`make headers`): a static binary with no C library, so the initramfs is this file and the
 * script. Linux 6.12 behaviour it relies on:
 * - mm/cma_debug.c: writing N to `alloc` calls cma_alloc(cma, N, 0, false) (order 0) and pushes
 *   the chunk on the area's list; a failed allocation makes the write fail with ENOMEM. Writing
 *   N to `free` releases N pages from the most recent chunks (see tests/cma_replay.py).
 * - fs/debugfs/file.c: `bitmap` is a u32 array printed as "%u" words separated by spaces and
 *   ended by a newline; `used` and `maxchunk` are "%llu\n".
 * - init/main.c console_on_rootfs(): the kernel opens /dev/console as fds 0-2 before it
 *   runs /init, so the initramfs carries a /dev/console node; nothing else is needed from /dev.
 *
 * Script (/replay.txt), one step a line: `<area> alloc <pages>` or `<area> free <pages>`; blank
 * lines and lines starting with '#' are skipped. Output, one record a line, each line written
 * with a single write():
 *   @R begin
 *   @R area <name> base_pfn <n> count <n> order_per_bit <n>
 *   @R state 0 <name> used <n> maxchunk <n> bitmap <w0> <w1> ...     (every area, before step 1)
 *   @R step <i> <name> alloc|free <pages> ret <0 or -errno>
 *   @R state <i> <name> used <n> maxchunk <n> bitmap <w0> <w1> ...
 *   @R error <what> errno <n>
 *   @R end <steps>
 */

#define CMA_DIR "/sys/kernel/debug/cma"
#define MAX_AREAS 32
#define NAME_MAX_LEN 128
#define SCRIPT_MAX (1 << 20)
#define FILE_MAX (1 << 16) /* a bitmap file: 11 characters a u32 word, 64 KiB is 6000 words */

static char script[SCRIPT_MAX];
static char file_buf[FILE_MAX];
static char line[FILE_MAX + 512];
static unsigned long line_len;
static char areas[MAX_AREAS][NAME_MAX_LEN];
static int area_count;

/* ---- output: a line is built in `line` and written at once ---------------------------------- */

static void put(const char *s)
{
	while (*s && line_len < sizeof(line) - 2)
		line[line_len++] = *s++;
}

static void put_long(long v)
{
	char digits[24];
	int n = 0;
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;

	do {
		digits[n++] = '0' + u % 10;
		u /= 10;
	} while (u);
	if (v < 0)
		digits[n++] = '-';
	while (n && line_len < sizeof(line) - 2)
		line[line_len++] = digits[--n];
}

static void end_line(void)
{
	unsigned long done = 0;

	line[line_len++] = '\n';
	while (done < line_len) {
		long w = write(1, line + done, line_len - done);

		if (w <= 0)
			break;
		done += w;
	}
	line_len = 0;
}

static void report_error(const char *what, const char *detail)
{
	int saved = errno;

	put("@R error ");
	put(what);
	put(detail ? " " : "");
	put(detail ? detail : "");
	put(" errno ");
	put_long(saved);
	end_line();
}

/* ---- debugfs files -------------------------------------------------------------------------- */

static void area_path(char *path, const char *area, const char *file)
{
	char *p = path;
	const char *parts[] = { CMA_DIR "/", area, "/", file };

	for (unsigned int i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		for (const char *s = parts[i]; *s && p < path + 2 * NAME_MAX_LEN - 1; s++)
			*p++ = *s;
	*p = '\0';
}

/* The whole file in file_buf, without its trailing newline; -1 on error. */
static long read_area_file(const char *area, const char *file)
{
	char path[2 * NAME_MAX_LEN];
	long total = 0;
	int fd;

	area_path(path, area, file);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		report_error("open", path);
		return -1;
	}
	for (;;) {
		long got = read(fd, file_buf + total, sizeof(file_buf) - 1 - total);

		if (got < 0) {
			report_error("read", path);
			close(fd);
			return -1;
		}
		if (got == 0)
			break;
		total += got;
	}
	close(fd);
	while (total && (file_buf[total - 1] == '\n' || file_buf[total - 1] == ' '))
		total--;
	file_buf[total] = '\0';
	return total;
}

static void put_file(const char *area, const char *file)
{
	put(read_area_file(area, file) < 0 ? "?" : file_buf);
}

/* 0, or -errno of the write (the debugfs attribute's own return value). */
static long write_area_file(const char *area, const char *file, long pages)
{
	char path[2 * NAME_MAX_LEN];
	char number[24];
	int n = 0, i = 0;
	char digits[24];
	long ret = 0;
	int fd;

	do {
		digits[n++] = '0' + pages % 10;
		pages /= 10;
	} while (pages);
	while (n)
		number[i++] = digits[--n];
	area_path(path, area, file);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, number, i) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void print_state(int step, const char *area)
{
	put("@R state ");
	put_long(step);
	put(" ");
	put(area);
	put(" used ");
	put_file(area, "used");
	put(" maxchunk ");
	put_file(area, "maxchunk");
	put(" bitmap ");
	put_file(area, "bitmap");
	end_line();
}

/* Every area the kernel made (cma_debugfs_init(): one directory per cma_areas[] entry). */
static void list_areas(void)
{
	char dents[4096];
	int fd = open(CMA_DIR, O_RDONLY | O_DIRECTORY);

	if (fd < 0) {
		report_error("open", CMA_DIR);
		return;
	}
	for (;;) {
		long got = getdents64(fd, (struct linux_dirent64 *)dents, sizeof(dents));

		if (got <= 0)
			break;
		for (long at = 0; at < got;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(dents + at);

			at += d->d_reclen;
			if (d->d_name[0] == '.' || area_count == MAX_AREAS || strlen(d->d_name) >= NAME_MAX_LEN)
				continue;
			strcpy(areas[area_count++], d->d_name);
		}
	}
	close(fd);
}

static void mount_or_say(const char *source, const char *target, const char *type)
{
	mkdir(target, 0755);
	if (mount(source, target, type, 0, NULL) < 0 && errno != EBUSY)
		report_error("mount", target);
}

/*
 * Only emergencies on the console from here: a failed cma_alloc() prints "alloc failed" and
 * cma_debug_show_areas()'s free ranges (mm/cma.c): slow on the serial line, and a kernel message
 * sent while a record is still going out could land inside it.
 */
static void quiet_console(void)
{
	int fd = open("/proc/sys/kernel/printk", O_WRONLY);

	if (fd < 0 || write(fd, "1\n", 2) != 2)
		report_error("quiet", "/proc/sys/kernel/printk");
	if (fd >= 0)
		close(fd);
}

/* ---- the script ----------------------------------------------------------------------------- */

static char *next_word(char **at)
{
	char *start = *at;

	while (*start == ' ' || *start == '\t')
		start++;
	if (!*start)
		return NULL;
	char *end = start;
	while (*end && *end != ' ' && *end != '\t')
		end++;
	if (*end)
		*end++ = '\0';
	*at = end;
	return start;
}

static int replay(void)
{
	long size = 0;
	int steps = 0;
	int fd = open("/replay.txt", O_RDONLY);

	if (fd < 0) {
		report_error("open", "/replay.txt");
		return 0;
	}
	for (;;) {
		long got = read(fd, script + size, sizeof(script) - 1 - size);

		if (got <= 0)
			break;
		size += got;
	}
	close(fd);
	script[size] = '\0';
	for (char *text = script; *text;) {
		char *this = text;

		while (*text && *text != '\n')
			text++;
		if (*text)
			*text++ = '\0';
		if (*this == '#')
			continue;
		char *area = next_word(&this);
		char *op = area ? next_word(&this) : NULL;
		char *count = op ? next_word(&this) : NULL;

		if (!area)
			continue;
		if (!count || (strcmp(op, "alloc") && strcmp(op, "free"))) {
			errno = EINVAL;
			report_error("script", area);
			continue;
		}
		long ret = write_area_file(area, op, atol(count));

		steps++;
		put("@R step ");
		put_long(steps);
		put(" ");
		put(area);
		put(" ");
		put(op);
		put(" ");
		put(count);
		put(" ret ");
		put_long(ret);
		end_line();
		print_state(steps, area);
	}
	return steps;
}

int main(void)
{
	mount_or_say("proc", "/proc", "proc");
	mount_or_say("sysfs", "/sys", "sysfs");
	mount_or_say("debugfs", "/sys/kernel/debug", "debugfs");
	quiet_console();
	put("@R begin");
	end_line();
	list_areas();
	for (int i = 0; i < area_count; i++) {
		put("@R area ");
		put(areas[i]);
		put(" base_pfn ");
		put_file(areas[i], "base_pfn");
		put(" count ");
		put_file(areas[i], "count");
		put(" order_per_bit ");
		put_file(areas[i], "order_per_bit");
		end_line();
	}
	for (int i = 0; i < area_count; i++)
		print_state(0, areas[i]);
	int steps = replay();

	put("@R end ");
	put_long(steps);
	end_line();
	/* QEMU runs with -no-reboot; a kernel that cannot power off panics when init exits. */
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	return 0;
}
