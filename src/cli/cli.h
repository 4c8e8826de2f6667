/* The herald subcommands. Each takes the arguments after its name and returns the exit status:
 * 0 success, 1 failure at run time, 2 bad usage (one line on stderr naming the flag). */
#ifndef HERALD_CLI_CLI_H
#define HERALD_CLI_CLI_H

int cli_serve(int argc, char **argv);
int cli_token(int argc, char **argv);
int cli_secret(int argc, char **argv);
int cli_deliveries(int argc, char **argv);
/* Settles the database of a command other than serve: *db as --db gave it, else the default
 * (config_db_default). Returns 2, having said why on stderr, when the configuration names none
 * that can be used; 0 otherwise. */
int cli_db_check(const char *cmd, const char **db);

extern const char cli_token_usage[];
extern const char cli_secret_usage[];
extern const char cli_deliveries_usage[];

#endif
