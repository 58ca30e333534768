/* fdshare: dispatch to a subcommand (commands.def), --help, --version. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *desc;       /* NULL: internal, not listed */
};

static const struct command commands[] = {
#define CMD(name, fn, desc) { #name, fn, desc },
#include "commands.def"
#undef CMD
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: fdshare COMMAND [ARG...]\n"
	           "       fdshare --help | --version | help COMMAND\n\n"
	           "Share open file descriptors between Linux processes.\n\n"
	           "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (commands[i].desc)
			fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].desc);
	fprintf(f, "\nRun 'fdshare help COMMAND' or 'fdshare COMMAND --help' for its "
	           "options;\nsee fdshare(1).  Exit status: 0 success, 1 operational "
	           "error,\n2 usage error, 126 CMD not executable, 127 CMD not found.\n");
}

static int help(int argc, char **argv)
{
	const struct command *c;
	char *args[] = { NULL, "--help", NULL };

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	c = find(argv[1]);
	if (c == NULL || c->desc == NULL) {
		fprintf(stderr, "fdshare: help: unknown command '%s' (see 'fdshare --help')\n",
		        argv[1]);
		return EXIT_USAGE;
	}
	args[0] = argv[1];
	return c->fn(2, args);
}

int main(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("fdshare %s\n", FDSHARE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0)
		return help(argc - 1, argv + 1);
	c = find(argv[1]);
	if (c == NULL) {
		fprintf(stderr, "fdshare: unknown command '%s' (see 'fdshare --help')\n",
		        argv[1]);
		return EXIT_USAGE;
	}
	return c->fn(argc - 1, argv + 1);
}
