/* taskring.h: the C ABI of libtaskring.so (docs/c-api.md).
 *
 * A C99 header over the C++ API (producer.h, job_client.h, worker.h, dead_letters.h): opaque
 * handles, plain structs, error codes. No C++ type and no exception crosses it.
 *
 * Errors: every function returning taskring_code sets this thread's last error message
 * (taskring_last_error(): "" after a success). Codes are the numbers of taskring::Status::Code.
 * A NULL pointer argument (unless documented as optional) is TASKRING_INVALID_ARGUMENT.
 *
 * Memory: the library allocates what it returns (result buffers, status strings) and the caller
 * releases it with taskring_free / taskring_job_status_free / taskring_job_free /
 * taskring_dead_letter_free. Input strings and buffers are only read during the call.
 *
 * Thread-safety: a taskring_producer, taskring_worker or taskring_dead_letters is used by one
 * thread at a time (open one per thread); a taskring_jobs handle is shared by any number of
 * threads. The free-standing
 * functions (taskring_last_error, taskring_code_name, ...) may be called from any thread.
 *
 * Options structs start with struct_size: fill them with the matching ..._options_init()
 * before setting fields, so a program built against this header keeps working with a later
 * library that has more fields. A NULL options pointer means the defaults.
 */
#ifndef TASKRING_TASKRING_H_
#define TASKRING_TASKRING_H_

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define TASKRING_C_API __attribute__((visibility("default")))
#else
#define TASKRING_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A C header: typedef, not `using` (clang-tidy's modernize-use-using does not apply). */
/* NOLINTBEGIN(modernize-use-using) */

/* ---- version ---- */

#define TASKRING_VERSION_MAJOR 0
#define TASKRING_VERSION_MINOR 1
#define TASKRING_VERSION_PATCH 0

/* The library's version, "MAJOR.MINOR.PATCH" (of the .so loaded, not of this header). */
TASKRING_C_API const char* taskring_version(void);

/* ---- errors ---- */

/* The same numbers as taskring::Status::Code; new codes are added at the end. */
typedef enum taskring_code {
  TASKRING_OK = 0,
  TASKRING_BUSY = 1,                /* queue full: retry later (not a failure) */
  TASKRING_TIMED_OUT = 2,           /* nothing arrived / finished within the wait */
  TASKRING_CLOSED = 3,              /* the daemon is stopping or gone */
  TASKRING_NOT_FOUND = 4,           /* no such queue, job or result */
  TASKRING_INVALID_ARGUMENT = 5,    /* the caller's input is wrong (NULL, too large, ...) */
  TASKRING_CORRUPTION = 6,          /* shared memory or stored data failed validation */
  TASKRING_IO_ERROR = 7,            /* the OS refused, or the daemon cannot log */
  TASKRING_INCOMPATIBLE = 8,        /* written by an incompatible layout version */
  TASKRING_STALE_LEASE = 9,         /* the job's lease expired and it was handed out again */
  TASKRING_NOT_READY = 10,          /* the daemon is starting: retry shortly */
  TASKRING_RESOURCE_EXHAUSTED = 11, /* a fixed table is full, or out of memory */
  TASKRING_INTERNAL = 255           /* an unexpected failure inside the library (a bug) */
} taskring_code;

/* "OK", "Busy", "NotFound", ...; "Unknown" for a number that is no code. */
TASKRING_C_API const char* taskring_code_name(taskring_code code);
/* This thread's last error: "<Code>: <reason>" (e.g. "NotFound: no queue 'q' ..."), or "" if
 * the latest call returning a taskring_code succeeded. Valid until this thread's next call. */
TASKRING_C_API const char* taskring_last_error(void);
/* Releases a buffer the library returned (taskring_jobs_result). NULL is a no-op. */
TASKRING_C_API void taskring_free(void* p);

/* ---- common types ---- */

/* A job's token: its id and a secret, 40 lowercase hex digits plus a NUL. What a URL carries
 * instead of the bare id: knowing one token gives no other job's. */
typedef struct taskring_token {
  char text[41];
} taskring_token;

/* A string key/value (input: enqueue headers; output: a status's headers). */
typedef struct taskring_header {
  const char* name;
  const char* value;
} taskring_header;

/* A payload: bytes, not a C string (NUL bytes are fine). data may be NULL when len is 0. */
typedef struct taskring_payload {
  const void* data;
  size_t len;
} taskring_payload;

/* ---- producer ---- */

typedef struct taskring_producer taskring_producer;

typedef struct taskring_producer_options {
  uint32_t struct_size;        /* set by taskring_producer_options_init */
  uint32_t attach_timeout_ms;  /* wait for a daemon still starting (default 5000) */
  uint32_t wait_for_daemon_ms; /* wait for a daemon not running yet (default 0: fail at once) */
  uint32_t commit_timeout_ms;  /* bound on the wait for the WAL commit (default 30000) */
  uint32_t spin_iterations;    /* busy-poll rounds before sleeping (default 2000) */
} taskring_producer_options;

TASKRING_C_API void taskring_producer_options_init(taskring_producer_options* opts);

#define TASKRING_PRIORITY_DEFAULT (-1) /* not set: the queue's default priority, 5 */

typedef struct taskring_enqueue_options {
  uint32_t struct_size;           /* set by taskring_enqueue_options_init */
  int32_t priority;               /* 0 (last) .. 9 (first), or TASKRING_PRIORITY_DEFAULT */
  const char* type;               /* e.g. "email.send"; NULL or "": untyped */
  uint64_t delay_ms;              /* run no earlier than this many ms from now (0: not set) */
  uint64_t run_at_unix_ns;        /* or no earlier than this wall-clock time (0: not set) */
  uint32_t max_attempts;          /* 0: the queue's default */
  uint32_t timeout_ms;            /* one attempt's limit; 0: the queue's default */
  const char* idempotency_key;    /* NULL or "": none (single enqueue only) */
  const taskring_header* headers; /* headers_count entries; may be NULL when the count is 0 */
  size_t headers_count;
} taskring_enqueue_options;

TASKRING_C_API void taskring_enqueue_options_init(taskring_enqueue_options* opts);

typedef struct taskring_enqueue_result {
  taskring_code code;   /* this job's outcome: OK (accepted), BUSY, INVALID_ARGUMENT, ... */
  uint64_t id;          /* the job id when code is OK */
  int duplicate;        /* 1: the idempotency key was seen; id is the first job's */
  taskring_token token; /* the job's token ("" for a duplicate whose status is gone) */
} taskring_enqueue_result;

/* Attaches to the queue served by taskringd. NOT_FOUND when no daemon serves it, CLOSED when
 * it stopped, NOT_READY when it is still starting after attach_timeout_ms. Blocks at most
 * attach_timeout_ms + wait_for_daemon_ms. On success *out is the handle to close. */
TASKRING_C_API taskring_code taskring_producer_open(const char* queue,
                                                    const taskring_producer_options* opts,
                                                    taskring_producer** out);
/* Detaches. NULL is a no-op. */
TASKRING_C_API void taskring_producer_close(taskring_producer* p);
/* Enqueues one job (opts NULL: defaults). Returns and stores in out->code: OK once the daemon
 * logged it (blocks for that commit), BUSY at once when the queue is full (see
 * taskring_producer_retry_after_ms), INVALID_ARGUMENT for a payload over the queue's limit or
 * bad options, CLOSED when the daemon is gone. */
TASKRING_C_API taskring_code taskring_producer_enqueue(taskring_producer* p, const void* data,
                                                       size_t len,
                                                       const taskring_enqueue_options* opts,
                                                       taskring_enqueue_result* out);
/* Enqueues count jobs with one wait for the commit, all with opts (no idempotency key).
 * results[i] answers payloads[i]. Returns OK if the call itself worked even when some items
 * are BUSY or invalid: check each results[i].code. */
TASKRING_C_API taskring_code taskring_producer_enqueue_batch(taskring_producer* p,
                                                             const taskring_payload* payloads,
                                                             size_t count,
                                                             const taskring_enqueue_options* opts,
                                                             taskring_enqueue_result* results);
/* After a BUSY: a suggested wait in ms before retrying (queue depth / drain rate). */
TASKRING_C_API uint32_t taskring_producer_retry_after_ms(const taskring_producer* p);
/* The queue's largest payload (with the job's type, key and headers) in bytes; 0 for NULL. */
TASKRING_C_API uint32_t taskring_producer_max_payload(const taskring_producer* p);

/* ---- job status ---- */

/* The same numbers as taskring::JobState. */
typedef enum taskring_job_state {
  TASKRING_JOB_UNKNOWN = 0,   /* never enqueued */
  TASKRING_JOB_PENDING = 1,   /* handed to the daemon, not yet logged */
  TASKRING_JOB_QUEUED = 2,    /* waiting for a worker */
  TASKRING_JOB_RUNNING = 3,   /* leased by a worker */
  TASKRING_JOB_DELAYED = 4,   /* waiting for its run time */
  TASKRING_JOB_COMPLETED = 5, /* terminal: a handler succeeded */
  TASKRING_JOB_RETRYING = 6,  /* an attempt failed; it will run again */
  TASKRING_JOB_DEAD = 7,      /* terminal: failed max_attempts times, dead-lettered */
  TASKRING_JOB_EXPIRED = 8,   /* finished longer ago than the daemon keeps outcomes */
  TASKRING_JOB_CANCELLED = 9  /* terminal: cancelled */
} taskring_job_state;

/* "unknown", "queued", "completed", ... (lowercase, as the CLI and HTTP API show them). */
TASKRING_C_API const char* taskring_job_state_name(taskring_job_state state);
/* 1 for completed, dead, cancelled and expired: the job will not change again. */
TASKRING_C_API int taskring_job_state_is_terminal(taskring_job_state state);

/* What a job is and how far it got. The strings and the headers array belong to the library:
 * release them with taskring_job_status_free (safe on a zeroed struct and on whatever a call
 * left in it, success or not). Strings are never NULL after a successful call. */
typedef struct taskring_job_status {
  uint64_t id;
  taskring_job_state state;
  uint32_t attempt; /* attempts started */
  uint32_t max_attempts;
  int32_t priority;
  uint64_t updated_unix_ns; /* when the state was last set */
  uint64_t enqueued_unix_ns;
  uint64_t started_unix_ns;  /* the latest attempt's start; 0 if it never started */
  uint64_t finished_unix_ns; /* terminal, or the latest failed attempt's end */
  int has_progress;          /* the running attempt reported progress */
  uint32_t progress_percent;
  char* progress_message;
  int cancel_requested;  /* a cancel reached it while it ran */
  uint64_t result_bytes; /* completed: the size of its result */
  char* token;           /* 40 hex digits, or "" when not kept */
  char* type;
  char* error; /* the latest failed attempt's error, or "" */
  taskring_header* headers;
  size_t headers_count;
} taskring_job_status;

TASKRING_C_API void taskring_job_status_free(taskring_job_status* st);

/* The status of a job by id, read from shared memory (no round trip to the daemon). */
TASKRING_C_API taskring_code taskring_producer_status(const taskring_producer* p, uint64_t id,
                                                      taskring_job_status* out);

/* ---- jobs: status, result, wait, cancel (JobClient) ---- */

/* Many threads share one: reads go to shared memory and the outcome store without a lock;
 * cancels share one client entry under a mutex. */
typedef struct taskring_jobs taskring_jobs;

typedef struct taskring_jobs_options {
  uint32_t struct_size;        /* set by taskring_jobs_options_init */
  uint32_t attach_timeout_ms;  /* as taskring_producer_options (default 5000) */
  uint32_t wait_for_daemon_ms; /* as taskring_producer_options (default 0) */
  uint32_t cancel_timeout_ms;  /* bound on the daemon's answer to a cancel (default 30000) */
} taskring_jobs_options;

TASKRING_C_API void taskring_jobs_options_init(taskring_jobs_options* opts);

typedef enum taskring_cancel_outcome {
  TASKRING_CANCEL_NONE = 0,            /* not answered (the call failed) */
  TASKRING_CANCEL_DONE = 1,            /* it was queued or delayed: it will never run */
  TASKRING_CANCEL_REQUESTED = 2,       /* it is running: its handler sees cancel_requested */
  TASKRING_CANCEL_ALREADY_FINISHED = 3 /* it had ended before */
} taskring_cancel_outcome;

TASKRING_C_API const char* taskring_cancel_outcome_name(taskring_cancel_outcome outcome);

/* As taskring_producer_open. */
TASKRING_C_API taskring_code taskring_jobs_open(const char* queue,
                                                const taskring_jobs_options* opts,
                                                taskring_jobs** out);
TASKRING_C_API void taskring_jobs_close(taskring_jobs* j);
/* NOT_FOUND for an id never enqueued; a finished job no longer kept reads EXPIRED. By token:
 * NOT_FOUND unless it is the job's own token, INVALID_ARGUMENT if it is no token at all. */
TASKRING_C_API taskring_code taskring_jobs_status(const taskring_jobs* j, uint64_t id,
                                                  taskring_job_status* out);
TASKRING_C_API taskring_code taskring_jobs_status_by_token(const taskring_jobs* j,
                                                           const char* token,
                                                           taskring_job_status* out);
/* The bytes a completed job's handler returned, in a buffer for taskring_free (never NULL on
 * OK, also for an empty result). NOT_FOUND, saying why, when there is none. */
TASKRING_C_API taskring_code taskring_jobs_result(const taskring_jobs* j, uint64_t id, void** data,
                                                  size_t* len);
TASKRING_C_API taskring_code taskring_jobs_result_by_token(const taskring_jobs* j,
                                                           const char* token, void** data,
                                                           size_t* len);
/* Blocks (on a futex the daemon wakes, no polling) until the job is terminal or timeout_ms
 * passes: TIMED_OUT, with the latest status in *out. CLOSED if the daemon stops meanwhile.
 * out is optional (NULL: no status). */
TASKRING_C_API taskring_code taskring_jobs_wait(const taskring_jobs* j, uint64_t id,
                                                uint32_t timeout_ms, taskring_job_status* out);
TASKRING_C_API taskring_code taskring_jobs_wait_by_token(const taskring_jobs* j, const char* token,
                                                         uint32_t timeout_ms,
                                                         taskring_job_status* out);
/* Cancels a job; blocks for the daemon's answer. NOT_FOUND for an id never enqueued or no
 * longer kept. Durable once it answers TASKRING_CANCEL_DONE. */
TASKRING_C_API taskring_code taskring_jobs_cancel(taskring_jobs* j, uint64_t id,
                                                  taskring_cancel_outcome* out);
TASKRING_C_API taskring_code taskring_jobs_cancel_by_token(taskring_jobs* j, const char* token,
                                                           taskring_cancel_outcome* out);

/* ---- worker ---- */

typedef struct taskring_worker taskring_worker;
/* A job taken by a worker: release it with taskring_job_free (also after completing it). Its
 * payload points into shared memory and stays valid until the job is completed or failed;
 * its other fields until taskring_job_free. */
typedef struct taskring_job taskring_job;

typedef struct taskring_worker_options {
  uint32_t struct_size;        /* set by taskring_worker_options_init */
  uint32_t attach_timeout_ms;  /* as taskring_producer_options (default 5000) */
  uint32_t wait_for_daemon_ms; /* as taskring_producer_options (default 0) */
  uint32_t spin_iterations;    /* busy-poll rounds before sleeping when empty (default 2000) */
  const char* const* types;    /* job types to take (types_count); none: every job. "" names
                                  untyped jobs. */
  size_t types_count;
} taskring_worker_options;

TASKRING_C_API void taskring_worker_options_init(taskring_worker_options* opts);

/* As taskring_producer_open. */
TASKRING_C_API taskring_code taskring_worker_open(const char* queue,
                                                  const taskring_worker_options* opts,
                                                  taskring_worker** out);
/* Detaches. Jobs still held go back to the queue when their lease runs out. NULL: no-op. */
TASKRING_C_API void taskring_worker_close(taskring_worker* w);
/* Waits up to timeout_ms for a job: OK with *out set, TIMED_OUT when none came (*out NULL),
 * CLOSED when the daemon stopped. */
TASKRING_C_API taskring_code taskring_worker_take(taskring_worker* w, uint32_t timeout_ms,
                                                  taskring_job** out);
/* Waits up to timeout_ms for the first job, then takes those already waiting, up to capacity;
 * jobs[0 .. *taken) are set, each for taskring_job_free. */
TASKRING_C_API taskring_code taskring_worker_take_many(taskring_worker* w, taskring_job** jobs,
                                                       size_t capacity, size_t* taken,
                                                       uint32_t timeout_ms);
/* Ends the job as completed. STALE_LEASE if its lease was revoked (nothing changes). */
TASKRING_C_API taskring_code taskring_worker_complete(taskring_worker* w, const taskring_job* job);
/* The same with a result (bytes, at most the daemon's --max-result; a larger one fails the
 * attempt and returns INVALID_ARGUMENT). Waits for the daemon to take the previous result. */
TASKRING_C_API taskring_code taskring_worker_complete_with_result(taskring_worker* w,
                                                                  const taskring_job* job,
                                                                  const void* data, size_t len);
/* Completes count jobs waking the daemon once. outcomes (optional, count entries) answer each
 * job; the return value is the first error that is not STALE_LEASE. */
TASKRING_C_API taskring_code taskring_worker_complete_many(taskring_worker* w,
                                                           taskring_job* const* jobs, size_t count,
                                                           taskring_code* outcomes);
/* Fails the attempt: retried up to its max attempts, then dead-lettered. error (optional, cut
 * to 2 KiB) shows as the job's last error. */
TASKRING_C_API taskring_code taskring_worker_fail(taskring_worker* w, const taskring_job* job,
                                                  const char* error);
/* Reports how far the job got (percent 0..100, message optional, cut to 96 bytes); not durable. */
TASKRING_C_API taskring_code taskring_worker_progress(taskring_worker* w, const taskring_job* job,
                                                      uint32_t percent, const char* message);
/* Extends the job's lease by the queue's lease period. */
TASKRING_C_API taskring_code taskring_worker_touch(taskring_worker* w, const taskring_job* job);
/* Gives the job back to run again at once without counting this attempt, so it can never be
 * dead-lettered by it: for a job this worker could not start for a reason that is not the
 * job's (a downstream outage, a shutdown). STALE_LEASE if its lease was already revoked. If the
 * daemon restarts before the release is on disk, the attempt counts after all. */
TASKRING_C_API taskring_code taskring_worker_release(taskring_worker* w, const taskring_job* job);
/* The queue's lease period in ms; 0 for NULL. */
TASKRING_C_API uint32_t taskring_worker_lease_ms(const taskring_worker* w);

/* Releases a job handle. NULL is a no-op. */
TASKRING_C_API void taskring_job_free(taskring_job* job);
/* Accessors: a NULL job gives 0, "" or NULL. */
TASKRING_C_API uint64_t taskring_job_id(const taskring_job* job);
TASKRING_C_API uint32_t taskring_job_attempt(const taskring_job* job); /* 1 on the first run */
TASKRING_C_API uint32_t taskring_job_max_attempts(const taskring_job* job);
TASKRING_C_API int32_t taskring_job_priority(const taskring_job* job);
TASKRING_C_API uint32_t taskring_job_timeout_ms(const taskring_job* job); /* 0: none */
TASKRING_C_API uint64_t taskring_job_enqueued_unix_ns(const taskring_job* job);
/* 1 once the attempt is past its timeout or the job was cancelled: return early. */
TASKRING_C_API int taskring_job_cancel_requested(const taskring_job* job);
/* The job's type ("" for an untyped job), valid until taskring_job_free. */
TASKRING_C_API const char* taskring_job_type(const taskring_job* job);
/* The payload (valid until the job is completed or failed). */
TASKRING_C_API taskring_code taskring_job_payload(const taskring_job* job, const void** data,
                                                  size_t* len);
TASKRING_C_API taskring_code taskring_job_token(const taskring_job* job, taskring_token* out);
TASKRING_C_API size_t taskring_job_headers_count(const taskring_job* job);
/* Header i (0 .. count-1): NOT_FOUND past the end. Strings valid until taskring_job_free. */
TASKRING_C_API taskring_code taskring_job_header(const taskring_job* job, size_t i,
                                                 const char** name, const char** value);
/* The value of the first header called name, or NULL. */
TASKRING_C_API const char* taskring_job_header_value(const taskring_job* job, const char* name);

/* ---- dead letters ---- */

/* A queue's dead letters (WAL_DIR/dead): jobs that used up their attempts, kept with their
 * payload until requeued or purged (as `taskring dead` does). One thread at a time. */
typedef struct taskring_dead_letters taskring_dead_letters;

typedef struct taskring_dead_letters_options {
  uint32_t struct_size;        /* set by taskring_dead_letters_options_init */
  const char* dir;             /* the queue's WAL directory; NULL: the running daemon's */
  uint32_t wait_for_daemon_ms; /* requeue: wait for a daemon not running yet (default 0) */
} taskring_dead_letters_options;

TASKRING_C_API void taskring_dead_letters_options_init(taskring_dead_letters_options* opts);

/* One dead letter. Its strings, headers and payload belong to the library: release them with
 * taskring_dead_letter_free (safe on a zeroed struct and after any call). */
typedef struct taskring_dead_letter {
  uint64_t job_id;
  uint32_t attempts;
  uint32_t max_attempts;
  uint64_t enqueued_unix_ns;
  uint64_t dead_unix_ns;
  char* reason; /* "failed" (the last attempt failed) or "lost" (it ended without an outcome) */
  int32_t priority;
  uint32_t timeout_ms;
  char* type;
  char* idempotency_key;
  taskring_header* headers;
  size_t headers_count;
  void* payload; /* payload_len bytes (not NUL-terminated; not NULL) */
  size_t payload_len;
} taskring_dead_letter;

TASKRING_C_API void taskring_dead_letter_free(taskring_dead_letter* letter);

/* Opens the dead letters of `queue` (NULL allowed when opts->dir is set: then no requeue).
 * NOT_FOUND when no dir is given and the queue is not running. Reads files only. */
TASKRING_C_API taskring_code taskring_dead_letters_open(const char* queue,
                                                        const taskring_dead_letters_options* opts,
                                                        taskring_dead_letters** out);
TASKRING_C_API void taskring_dead_letters_close(taskring_dead_letters* d);
/* The ids of the dead letters, ascending: *ids (count entries) is for taskring_free (NULL when
 * there are none). */
TASKRING_C_API taskring_code taskring_dead_letters_list(const taskring_dead_letters* d,
                                                        uint64_t** ids, size_t* count);
/* NOT_FOUND when there is no letter for the id; CORRUPTION for a damaged file. */
TASKRING_C_API taskring_code taskring_dead_letters_read(const taskring_dead_letters* d,
                                                        uint64_t job_id, taskring_dead_letter* out);
/* Enqueues the letter as a new job (blocks for the commit) and only then removes the letter.
 * BUSY when the queue is full (nothing changes; see taskring_dead_letters_retry_after_ms);
 * NOT_READY while another process changes the dead letters. *new_id is set once the new job is
 * accepted, even if removing the letter then fails. */
TASKRING_C_API taskring_code taskring_dead_letters_requeue(taskring_dead_letters* d,
                                                           uint64_t job_id, uint64_t* new_id);
/* Removes one letter (NOT_FOUND when there is none), or all of them. */
TASKRING_C_API taskring_code taskring_dead_letters_purge(taskring_dead_letters* d, uint64_t job_id);
TASKRING_C_API taskring_code taskring_dead_letters_purge_all(taskring_dead_letters* d,
                                                             uint64_t* purged);
/* After a BUSY requeue: a suggested wait in ms. */
TASKRING_C_API uint32_t taskring_dead_letters_retry_after_ms(const taskring_dead_letters* d);

/* NOLINTEND(modernize-use-using) */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TASKRING_TASKRING_H_ */
