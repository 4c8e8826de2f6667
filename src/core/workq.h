/* A few threads for work that blocks, such as the DNS lookups that vet notify URLs when a
 * channel is subscribed: on an HTTP thread one slow name server would hold every request of
 * that thread (two threads on a 2-CPU machine: the whole API) for as long as the lookup takes. */
#ifndef HERALD_CORE_WORKQ_H
#define HERALD_CORE_WORKQ_H

typedef void workq_fn(void *arg);

struct workq;

/* Starts `threads` threads named `name` (static, at most 15 characters). Returns NULL when none
 * can start (logged). */
struct workq *workq_start(unsigned threads, const char *name);
/* Queues fn(arg) to run on one of the threads, in the order queued; never blocks. */
void workq_run(struct workq *q, workq_fn *fn, void *arg);
/* Runs what is still queued, then joins the threads. NULL is a no-op. */
void workq_stop(struct workq *q);

#endif
