/* herald: one binary, subcommands. This file only dispatches; the work lives in the modules. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/config.h"

static const char usage[] =
    "usage: herald COMMAND [options]\n"
    "\n"
    "A self-hosted, Zoho CRM-compatible record store and change-notification server.\n"
    "\n"
    "commands:\n"
    "  serve                      serve the API and deliver callbacks\n"
    "  token create|list|revoke   manage API tokens (stored only as SHA-256)\n"
    "  secret show|rotate         the organization's whsec_ callback signing secret\n"
    "  deliveries list|show|resend\n"
    "                             the delivery history of callbacks; resend them\n"
    "  version                    print the version\n"
    "  help [COMMAND]             help for a command (also COMMAND --help)\n";

static int help(const char *command)
{
    if (!command) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(command, "serve") == 0)
        fputs(config_serve_usage, stdout);
    else if (strcmp(command, "token") == 0)
        fputs(cli_token_usage, stdout);
    else if (strcmp(command, "secret") == 0)
        fputs(cli_secret_usage, stdout);
    else if (strcmp(command, "deliveries") == 0)
        fputs(cli_deliveries_usage, stdout);
    else if (strcmp(command, "version") == 0)
        fputs("usage: herald version\n\nPrints the version.\n", stdout);
    else if (strcmp(command, "help") == 0 || strcmp(command, "--help") == 0 ||
             strcmp(command, "-h") == 0)
        fputs(usage, stdout); /* `herald help --help`: --help on every command */
    else {
        fprintf(stderr, "herald: unknown command '%s' (see herald help)\n", command);
        return 2;
    }
    return 0;
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return cli_serve(argc - 2, argv + 2);
    if (strcmp(cmd, "token") == 0)
        return cli_token(argc - 2, argv + 2);
    if (strcmp(cmd, "secret") == 0)
        return cli_secret(argc - 2, argv + 2);
    if (strcmp(cmd, "deliveries") == 0)
        return cli_deliveries(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (argc > 2 && strcmp(argv[2], "--help") != 0 && strcmp(argv[2], "-h") != 0) {
            fprintf(stderr, "herald version: unexpected argument '%s'\n", argv[2]);
            return 2;
        }
        if (argc > 2)
            return help("version");
        printf("herald %s\n", HERALD_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        /* `herald help token create`: one usage covers a command's subcommands; other extra
         * words are refused, like every command's, rather than silently dropped. */
        bool has_subcommands =
            argc > 2 && (strcmp(argv[2], "token") == 0 || strcmp(argv[2], "secret") == 0 ||
                         strcmp(argv[2], "deliveries") == 0);
        if (argc > (has_subcommands ? 4 : 3)) {
            fprintf(stderr, "herald help: unexpected argument '%s'\n",
                    argv[has_subcommands ? 4 : 3]);
            return 2;
        }
        return help(argc > 2 ? argv[2] : NULL);
    }
    fprintf(stderr, "herald: unknown command '%s' (see herald help)\n", cmd);
    return 2;
}

/* What a command printed must reach stdout before it reports success: with a full disk or a
 * closed pipe, `herald secret rotate > file` or `herald version` exited 0 with nothing written. */
int main(int argc, char **argv)
{
    int rc = run(argc, argv);
    if (fflush(stdout) == 0 && !ferror(stdout))
        return rc;
    if (rc == 0)
        fprintf(stderr, "herald: cannot write to stdout: %s\n", strerror(errno));
    return rc ? rc : 1;
}
