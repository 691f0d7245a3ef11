#include "workers.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct job_node {
	void *job;
	struct job_node *next;
} job_node;

typedef struct job_list {
	job_node *head, *tail;
} job_list;

struct csod_workers {
	pthread_mutex_t lock;
	pthread_cond_t ready;
	job_list queued, done;
	int stopping;
	int event_fd;
	int n_threads;
	pthread_t *threads;
	void (*run)(void *job);
	void (*discard)(void *job);
};

static void push(job_list *l, job_node *n)
{
	n->next = NULL;
	if (l->tail)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
}

static job_node *pop(job_list *l)
{
	job_node *n = l->head;
	if (n) {
		l->head = n->next;
		if (!l->head)
			l->tail = NULL;
	}
	return n;
}

static void *worker_main(void *arg)
{
	csod_workers *w = arg;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->stopping && !w->queued.head)
			pthread_cond_wait(&w->ready, &w->lock);
		if (w->stopping)
			break;
		job_node *n = pop(&w->queued);
		pthread_mutex_unlock(&w->lock);
		w->run(n->job);
		pthread_mutex_lock(&w->lock);
		push(&w->done, n);
		uint64_t one = 1;
		if (write(w->event_fd, &one, sizeof one) < 0) {
			/* The counter cannot overflow in practice; nothing to do. */
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

csod_workers *csod_workers_start(int threads, void (*run)(void *job), void (*discard)(void *job))
{
	csod_workers *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	if (threads < 1)
		threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (threads < 1)
		threads = 1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->ready, NULL);
	w->run = run;
	w->discard = discard;
	w->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->threads = calloc((size_t)threads, sizeof *w->threads);
	if (w->event_fd < 0 || !w->threads) {
		csod_workers_stop(w);
		return NULL;
	}
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0)
			break;
		w->n_threads++;
	}
	return w;
}

void csod_workers_stop(csod_workers *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_broadcast(&w->ready);
	pthread_mutex_unlock(&w->lock);
	for (int i = 0; i < w->n_threads; i++)
		pthread_join(w->threads[i], NULL);
	/* Jobs still queued or not collected are dropped: their requests are
	 * still in_progress in the database, and a restart redoes them. */
	job_node *n;
	while ((n = pop(&w->queued)) || (n = pop(&w->done))) {
		w->discard(n->job);
		free(n);
	}
	if (w->event_fd >= 0)
		close(w->event_fd);
	free(w->threads);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->ready);
	free(w);
}

int csod_workers_fd(const csod_workers *w)
{
	return w->event_fd;
}

void csod_workers_submit(csod_workers *w, void *job)
{
	job_node *n = malloc(sizeof *n);
	if (!n)
		return;
	n->job = job;
	pthread_mutex_lock(&w->lock);
	push(&w->queued, n);
	pthread_cond_signal(&w->ready);
	pthread_mutex_unlock(&w->lock);
}

void *csod_workers_take_done(csod_workers *w)
{
	uint64_t count;
	if (read(w->event_fd, &count, sizeof count) < 0) {
		/* EAGAIN: nothing signalled since the last read; the list says. */
	}
	pthread_mutex_lock(&w->lock);
	job_node *n = pop(&w->done);
	pthread_mutex_unlock(&w->lock);
	if (!n)
		return NULL;
	void *job = n->job;
	free(n);
	return job;
}
