/*
 * GLib's GMutex, GRecMutex, GRWLock and GCond on pthread, for the ThreadSanitizer run only
 * (scripts/run-tsan.sh preloads this library into the programs it tests).
 *
 * Why: GLib 2.74 implements these locks with atomics and futex() inside libglib, which is not
 * built with ThreadSanitizer, so TSan sees no ordering between a g_mutex_unlock() and the next
 * g_mutex_lock() and reports every field a GMutex guards as a race. The same functions on
 * pthread make our code's GLib locks visible to TSan's pthread interceptors. The state lives
 * behind the lock's pointer, allocated on first use, as in GLib's own non-futex fallback.
 *
 * Only callers outside libglib reach these definitions (libglib binds its own calls to its own
 * functions), so a lock is always used through one implementation: GLib's internal locks stay
 * futex-based (and invisible: see tests/tsan/tsan.supp), ours and GIO's become pthread ones.
 *
 * The same holds for the queues GLib hands data between threads with (GAsyncQueue, GThreadPool,
 * a GSource attached from another thread): their locks are inside libglib. The wrappers at the
 * end tell TSan "what was pushed happens before what is popped", keyed on the data pointer, the
 * ordering GLib documents, and then call the real function.
 */
#include <dlfcn.h>
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void
tsan_check(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "msb-tsan-glib: %s failed: %d\n", what, rc);
		abort();
	}
}

/*
 * This file is not instrumented (a preloaded library must also load into programs built
 * without TSan), so its atomics are invisible; it tells TSan about the one ordering it relies
 * on, lock state published on first use, through the runtime's annotations when present.
 */
extern void
__tsan_acquire(void *addr) __attribute__((weak));
extern void
__tsan_release(void *addr) __attribute__((weak));

static void *
tsan_load(gpointer *slot)
{
	void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (p != NULL && __tsan_acquire != NULL)
		__tsan_acquire(slot);
	return p;
}

/* Installs @fresh in *@slot unless another thread was first; returns the one in place. */
static void *
tsan_publish(gpointer *slot, void *fresh, void (*destroy)(void *))
{
	void *expected = NULL;

	if (__tsan_release != NULL)
		__tsan_release(slot);
	if (__atomic_compare_exchange_n(slot, &expected, fresh, FALSE, __ATOMIC_ACQ_REL,
	                                __ATOMIC_ACQUIRE))
		return fresh;
	destroy(fresh);
	if (__tsan_acquire != NULL)
		__tsan_acquire(slot);
	return expected;
}

/* ---- GMutex, GRecMutex ------------------------------------------------------------------- */

static pthread_mutex_t *
tsan_mutex_new(int type)
{
	pthread_mutex_t *m = malloc(sizeof(*m));
	pthread_mutexattr_t attr;

	if (m == NULL)
		abort();
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, type);
	tsan_check(pthread_mutex_init(m, &attr), "pthread_mutex_init");
	pthread_mutexattr_destroy(&attr);
	return m;
}

static void
tsan_mutex_free(void *p)
{
	pthread_mutex_destroy(p);
	free(p);
}

static pthread_mutex_t *
tsan_mutex_get(gpointer *slot, int type)
{
	pthread_mutex_t *m = tsan_load(slot);
	if (m != NULL)
		return m;
	return tsan_publish(slot, tsan_mutex_new(type), tsan_mutex_free);
}

void
g_mutex_init(GMutex *mutex)
{
	mutex->p = tsan_mutex_new(PTHREAD_MUTEX_DEFAULT);
}

void
g_mutex_clear(GMutex *mutex)
{
	if (mutex->p != NULL)
		tsan_mutex_free(mutex->p);
	mutex->p = NULL;
}

void
g_mutex_lock(GMutex *mutex)
{
	tsan_check(pthread_mutex_lock(tsan_mutex_get(&mutex->p, PTHREAD_MUTEX_DEFAULT)),
	           "pthread_mutex_lock");
}

void
g_mutex_unlock(GMutex *mutex)
{
	tsan_check(pthread_mutex_unlock(tsan_mutex_get(&mutex->p, PTHREAD_MUTEX_DEFAULT)),
	           "pthread_mutex_unlock");
}

gboolean
g_mutex_trylock(GMutex *mutex)
{
	return pthread_mutex_trylock(tsan_mutex_get(&mutex->p, PTHREAD_MUTEX_DEFAULT)) == 0;
}

void
g_rec_mutex_init(GRecMutex *rec_mutex)
{
	rec_mutex->p = tsan_mutex_new(PTHREAD_MUTEX_RECURSIVE);
}

void
g_rec_mutex_clear(GRecMutex *rec_mutex)
{
	if (rec_mutex->p != NULL)
		tsan_mutex_free(rec_mutex->p);
	rec_mutex->p = NULL;
}

void
g_rec_mutex_lock(GRecMutex *rec_mutex)
{
	tsan_check(pthread_mutex_lock(tsan_mutex_get(&rec_mutex->p, PTHREAD_MUTEX_RECURSIVE)),
	           "pthread_mutex_lock");
}

void
g_rec_mutex_unlock(GRecMutex *rec_mutex)
{
	tsan_check(pthread_mutex_unlock(tsan_mutex_get(&rec_mutex->p, PTHREAD_MUTEX_RECURSIVE)),
	           "pthread_mutex_unlock");
}

gboolean
g_rec_mutex_trylock(GRecMutex *rec_mutex)
{
	return pthread_mutex_trylock(tsan_mutex_get(&rec_mutex->p, PTHREAD_MUTEX_RECURSIVE)) == 0;
}

/* ---- GRWLock ----------------------------------------------------------------------------- */

static pthread_rwlock_t *
tsan_rwlock_new(void)
{
	pthread_rwlock_t *l = malloc(sizeof(*l));
	if (l == NULL)
		abort();
	tsan_check(pthread_rwlock_init(l, NULL), "pthread_rwlock_init");
	return l;
}

static void
tsan_rwlock_free(void *p)
{
	pthread_rwlock_destroy(p);
	free(p);
}

static pthread_rwlock_t *
tsan_rwlock_get(GRWLock *lock)
{
	pthread_rwlock_t *l = tsan_load(&lock->p);
	if (l != NULL)
		return l;
	return tsan_publish(&lock->p, tsan_rwlock_new(), tsan_rwlock_free);
}

void
g_rw_lock_init(GRWLock *rw_lock)
{
	rw_lock->p = tsan_rwlock_new();
}

void
g_rw_lock_clear(GRWLock *rw_lock)
{
	if (rw_lock->p != NULL)
		tsan_rwlock_free(rw_lock->p);
	rw_lock->p = NULL;
}

void
g_rw_lock_writer_lock(GRWLock *rw_lock)
{
	tsan_check(pthread_rwlock_wrlock(tsan_rwlock_get(rw_lock)), "pthread_rwlock_wrlock");
}

gboolean
g_rw_lock_writer_trylock(GRWLock *rw_lock)
{
	return pthread_rwlock_trywrlock(tsan_rwlock_get(rw_lock)) == 0;
}

void
g_rw_lock_writer_unlock(GRWLock *rw_lock)
{
	tsan_check(pthread_rwlock_unlock(tsan_rwlock_get(rw_lock)), "pthread_rwlock_unlock");
}

void
g_rw_lock_reader_lock(GRWLock *rw_lock)
{
	tsan_check(pthread_rwlock_rdlock(tsan_rwlock_get(rw_lock)), "pthread_rwlock_rdlock");
}

gboolean
g_rw_lock_reader_trylock(GRWLock *rw_lock)
{
	return pthread_rwlock_tryrdlock(tsan_rwlock_get(rw_lock)) == 0;
}

void
g_rw_lock_reader_unlock(GRWLock *rw_lock)
{
	tsan_check(pthread_rwlock_unlock(tsan_rwlock_get(rw_lock)), "pthread_rwlock_unlock");
}

/* ---- GCond ------------------------------------------------------------------------------- */

static pthread_cond_t *
tsan_cond_new(void)
{
	pthread_cond_t *c = malloc(sizeof(*c));
	pthread_condattr_t attr;

	if (c == NULL)
		abort();
	pthread_condattr_init(&attr);
	/* g_cond_wait_until() takes g_get_monotonic_time() units */
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	tsan_check(pthread_cond_init(c, &attr), "pthread_cond_init");
	pthread_condattr_destroy(&attr);
	return c;
}

static void
tsan_cond_free(void *p)
{
	pthread_cond_destroy(p);
	free(p);
}

static pthread_cond_t *
tsan_cond_get(GCond *cond)
{
	pthread_cond_t *c = tsan_load(&cond->p);
	if (c != NULL)
		return c;
	return tsan_publish(&cond->p, tsan_cond_new(), tsan_cond_free);
}

void
g_cond_init(GCond *cond)
{
	cond->p = tsan_cond_new();
}

void
g_cond_clear(GCond *cond)
{
	/* left allocated: GIO 2.74 signals a synchronous GTask's cond after unlocking its mutex,
	 * so the waiter may clear the cond while that signal is still running; harmless with
	 * GLib's futex cond (nothing to free), a use after free with this one */
	cond->p = NULL;
}

void
g_cond_wait(GCond *cond, GMutex *mutex)
{
	tsan_check(pthread_cond_wait(tsan_cond_get(cond),
	                             tsan_mutex_get(&mutex->p, PTHREAD_MUTEX_DEFAULT)),
	           "pthread_cond_wait");
}

gboolean
g_cond_wait_until(GCond *cond, GMutex *mutex, gint64 end_time)
{
	struct timespec ts;
	int rc;

	ts.tv_sec = end_time / G_USEC_PER_SEC;
	ts.tv_nsec = (end_time % G_USEC_PER_SEC) * 1000;
	rc = pthread_cond_timedwait(tsan_cond_get(cond),
	                            tsan_mutex_get(&mutex->p, PTHREAD_MUTEX_DEFAULT), &ts);
	return rc == 0;
}

void
g_cond_signal(GCond *cond)
{
	tsan_check(pthread_cond_signal(tsan_cond_get(cond)), "pthread_cond_signal");
}

void
g_cond_broadcast(GCond *cond)
{
	tsan_check(pthread_cond_broadcast(tsan_cond_get(cond)), "pthread_cond_broadcast");
}

/* ---- handing data between threads ------------------------------------------------------- */

static void *
tsan_real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (f == NULL) {
		fprintf(stderr, "msb-tsan-glib: no %s in the libraries after this one\n", name);
		abort();
	}
	return f;
}

static void
tsan_handoff_release(const void *p)
{
	if (p != NULL && __tsan_release != NULL)
		__tsan_release((void *)p);
}

static void
tsan_handoff_acquire(const void *p)
{
	if (p != NULL && __tsan_acquire != NULL)
		__tsan_acquire((void *)p);
}

void
g_async_queue_push(GAsyncQueue *queue, gpointer data)
{
	static void (*real)(GAsyncQueue *, gpointer);
	if (real == NULL)
		real = tsan_real("g_async_queue_push");
	tsan_handoff_release(data);
	real(queue, data);
}

void
g_async_queue_push_unlocked(GAsyncQueue *queue, gpointer data)
{
	static void (*real)(GAsyncQueue *, gpointer);
	if (real == NULL)
		real = tsan_real("g_async_queue_push_unlocked");
	tsan_handoff_release(data);
	real(queue, data);
}

gpointer
g_async_queue_pop(GAsyncQueue *queue)
{
	static gpointer (*real)(GAsyncQueue *);
	gpointer data;
	if (real == NULL)
		real = tsan_real("g_async_queue_pop");
	data = real(queue);
	tsan_handoff_acquire(data);
	return data;
}

gpointer
g_async_queue_timeout_pop(GAsyncQueue *queue, guint64 timeout)
{
	static gpointer (*real)(GAsyncQueue *, guint64);
	gpointer data;
	if (real == NULL)
		real = tsan_real("g_async_queue_timeout_pop");
	data = real(queue, timeout);
	tsan_handoff_acquire(data);
	return data;
}

gpointer
g_async_queue_try_pop(GAsyncQueue *queue)
{
	static gpointer (*real)(GAsyncQueue *);
	gpointer data;
	if (real == NULL)
		real = tsan_real("g_async_queue_try_pop");
	data = real(queue);
	tsan_handoff_acquire(data);
	return data;
}

/* A thread pool's function, called through a trampoline that acquires what push released. */
typedef struct {
	GFunc func;
	gpointer user_data;
} TsanPoolFunc;

static void
tsan_pool_trampoline(gpointer data, gpointer user_data)
{
	TsanPoolFunc *f = user_data;
	tsan_handoff_acquire(data);
	f->func(data, f->user_data);
}

static TsanPoolFunc *
tsan_pool_func_new(GFunc func, gpointer user_data)
{
	/* lives as long as the pool; a pool is created a few times per process */
	TsanPoolFunc *f = malloc(sizeof(*f));
	if (f == NULL)
		abort();
	f->func = func;
	f->user_data = user_data;
	return f;
}

GThreadPool *
g_thread_pool_new(GFunc func, gpointer user_data, gint max_threads, gboolean exclusive,
                  GError **error)
{
	static GThreadPool *(*real)(GFunc, gpointer, gint, gboolean, GError **);
	if (real == NULL)
		real = tsan_real("g_thread_pool_new");
	return real(tsan_pool_trampoline, tsan_pool_func_new(func, user_data), max_threads,
	            exclusive, error);
}

GThreadPool *
g_thread_pool_new_full(GFunc func, gpointer user_data, GDestroyNotify item_free_func,
                       gint max_threads, gboolean exclusive, GError **error)
{
	static GThreadPool *(*real)(GFunc, gpointer, GDestroyNotify, gint, gboolean, GError **);
	if (real == NULL)
		real = tsan_real("g_thread_pool_new_full");
	return real(tsan_pool_trampoline, tsan_pool_func_new(func, user_data), item_free_func,
	            max_threads, exclusive, error);
}

gboolean
g_thread_pool_push(GThreadPool *pool, gpointer data, GError **error)
{
	static gboolean (*real)(GThreadPool *, gpointer, GError **);
	if (real == NULL)
		real = tsan_real("g_thread_pool_push");
	tsan_handoff_release(data);
	return real(pool, data, error);
}

/* A source's callback, called through a trampoline that acquires what attach released. */
typedef struct {
	GSource *source;
	GSourceFunc func;
	gpointer data;
	GDestroyNotify notify;
} TsanSourceFunc;

static gboolean
tsan_source_trampoline(gpointer user_data)
{
	TsanSourceFunc *f = user_data;
	tsan_handoff_acquire(f->source);
	return f->func(f->data);
}

static void
tsan_source_notify(gpointer user_data)
{
	TsanSourceFunc *f = user_data;
	tsan_handoff_acquire(f->source);
	if (f->notify != NULL)
		f->notify(f->data);
	free(f);
}

void
g_source_set_callback(GSource *source, GSourceFunc func, gpointer data, GDestroyNotify notify)
{
	static void (*real)(GSource *, GSourceFunc, gpointer, GDestroyNotify);
	TsanSourceFunc *f;

	static const GSourceFuncs *idle_funcs;
	static const GSourceFuncs *timeout_funcs;

	if (real == NULL) {
		/* looked up, not linked: the library also loads into programs without GLib */
		idle_funcs = tsan_real("g_idle_funcs");
		timeout_funcs = tsan_real("g_timeout_funcs");
		real = tsan_real("g_source_set_callback");
	}
	/* only idle and timeout sources call a GSourceFunc (a child watch, an I/O watch call theirs
	 * with other arguments), and a NULL func means the source's default: leave those alone */
	if (func == NULL ||
	    (source->source_funcs != idle_funcs && source->source_funcs != timeout_funcs)) {
		real(source, func, data, notify);
		return;
	}
	f = malloc(sizeof(*f));
	if (f == NULL)
		abort();
	f->source = source;
	f->func = func;
	f->data = data;
	f->notify = notify;
	real(source, tsan_source_trampoline, f, tsan_source_notify);
}

guint
g_source_attach(GSource *source, GMainContext *context)
{
	static guint (*real)(GSource *, GMainContext *);
	guint id;

	if (real == NULL)
		real = tsan_real("g_source_attach");
	/* before: what the caller prepared; after: what GLib allocated to attach it */
	tsan_handoff_release(source);
	id = real(source, context);
	tsan_handoff_release(source);
	return id;
}
