/*
 * replay_main.c
 *	  A main() that runs a fuzz target once over saved inputs (files or
 *	  directories), without libFuzzer, so the targets can be built without
 *	  sanitizers and run under valgrind (run.sh valgrind): memcheck also sees
 *	  reads of uninitialized memory, which ASan does not.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long runs;

static void
run_file(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *buf;
	long		len;

	if (f == NULL)
	{
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(len > 0 ? len : 1);
	if (len > 0 && fread(buf, 1, len, f) != (size_t) len)
	{
		perror(path);
		exit(2);
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t) len);
	free(buf);
	runs++;
}

static void
run_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
	{
		perror(path);
		exit(2);
	}
	if (S_ISDIR(st.st_mode))
	{
		DIR		   *d = opendir(path);
		struct dirent *e;

		while ((e = readdir(d)) != NULL)
		{
			char		child[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
			run_path(child);
		}
		closedir(d);
	}
	else
		run_file(path);
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		run_path(argv[i]);
	fprintf(stderr, "replay: %ld inputs\n", runs);
	return 0;
}
