#include "core/workq.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/xmalloc.h"

struct task {
    workq_fn *fn;
    void *arg;
    struct task *next;
};

struct workq {
    const char *name;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct task *head, *tail;
    bool is_stopping;
    unsigned started;
    pthread_t threads[];
};

static void *workq_main(void *arg)
{
    struct workq *q = arg;
    pthread_setname_np(pthread_self(), q->name);
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (!q->head && !q->is_stopping)
            pthread_cond_wait(&q->cv, &q->mu);
        struct task *t = q->head;
        if (t) {
            q->head = t->next;
            if (!q->head)
                q->tail = NULL;
        }
        pthread_mutex_unlock(&q->mu);
        if (!t)
            return NULL; /* stopping, and nothing is left */
        t->fn(t->arg);
        free(t);
    }
}

struct workq *workq_start(unsigned threads, const char *name)
{
    struct workq *q = xcalloc(1, sizeof *q + threads * sizeof q->threads[0]);
    q->name = name;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    for (; q->started < threads; q->started++) {
        if (pthread_create(&q->threads[q->started], NULL, workq_main, q) != 0)
            break;
    }
    if (q->started == 0) {
        log_error("msg=\"cannot start a thread\" name=%s", name);
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->cv);
        free(q);
        return NULL;
    }
    return q;
}

void workq_run(struct workq *q, workq_fn *fn, void *arg)
{
    struct task *t = xmalloc(sizeof *t);
    *t = (struct task){.fn = fn, .arg = arg};
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

void workq_stop(struct workq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->is_stopping = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (unsigned i = 0; i < q->started; i++)
        pthread_join(q->threads[i], NULL);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
}
