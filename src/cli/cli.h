/* The herald subcommands. Each takes the arguments after its name and returns the exit status:
 * 0 success, 1 failure at run time, 2 bad usage (one line on stderr naming the flag). */
#ifndef HERALD_CLI_CLI_H
#define HERALD_CLI_CLI_H

int cli_serve(int argc, char **argv);
int cli_token(int argc, char **argv);
int cli_secret(int argc, char **argv);
int cli_deliveries(int argc, char **argv);

extern const char cli_token_usage[];
extern const char cli_secret_usage[];
extern const char cli_deliveries_usage[];

#endif
