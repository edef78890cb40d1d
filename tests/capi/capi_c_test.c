/* The C ABI from C: a C99 program linked against libtaskring.so only, run by capi_test.cc
 * against a real taskringd. Each mode is one scenario:
 *
 *   capi_c_test basic QUEUE     every call, on a daemon with --max-payload 4096
 *   capi_c_test busy QUEUE      a full queue (--capacity 4, no worker): BUSY and retry_after
 *   capi_c_test missing QUEUE   no daemon: NOT_FOUND, and argument checks needing no daemon
 *
 * Prints each failed check to stderr and exits 1 if any failed. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "taskring/taskring.h"

static int failures = 0;

#define CHECK(cond)                                                                              \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: '%s')\n", __FILE__, __LINE__, #cond, \
              taskring_last_error());                                                            \
      ++failures;                                                                                \
    }                                                                                            \
  } while (0)

/* expr must return `want`; a failure other than OK must leave a message. */
#define CHECK_CODE(expr, want)                                                                     \
  do {                                                                                             \
    taskring_code got_ = (expr);                                                                   \
    if (got_ != (want)) {                                                                          \
      fprintf(stderr, "%s:%d: %s returned %s, want %s (last error: '%s')\n", __FILE__, __LINE__,   \
              #expr, taskring_code_name(got_), taskring_code_name(want), taskring_last_error());   \
      ++failures;                                                                                  \
    } else if (got_ == TASKRING_OK && taskring_last_error()[0] != '\0') {                          \
      fprintf(stderr, "%s:%d: %s succeeded but left last error '%s'\n", __FILE__, __LINE__, #expr, \
              taskring_last_error());                                                              \
      ++failures;                                                                                  \
    } else if (got_ != TASKRING_OK && taskring_last_error()[0] == '\0') {                          \
      fprintf(stderr, "%s:%d: %s returned %s without a message\n", __FILE__, __LINE__, #expr,      \
              taskring_code_name(got_));                                                           \
      ++failures;                                                                                  \
    }                                                                                              \
  } while (0)

/* A check the rest of the scenario depends on. */
#define REQUIRE(cond)                                                                              \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: REQUIRE failed: %s (last error: '%s')\n", __FILE__, __LINE__, #cond, \
              taskring_last_error());                                                              \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

static int contains(const char* haystack, const char* needle) {
  return haystack != NULL && strstr(haystack, needle) != NULL;
}

static int is_token(const char* s) {
  size_t i;
  if (s == NULL || strlen(s) != 40) return 0;
  for (i = 0; i < 40; ++i) {
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  }
  return 1;
}

/* Polls the job's status until it is no longer RUNNING (up to 5 s); *st holds the last one. */
static int wait_while_running(taskring_jobs* j, uint64_t id, taskring_job_status* st) {
  struct timespec ms10;
  int i;
  ms10.tv_sec = 0;
  ms10.tv_nsec = 10 * 1000 * 1000;
  for (i = 0; i < 500; ++i) {
    if (taskring_jobs_status(j, id, st) != TASKRING_OK) return 0;
    if (st->state != TASKRING_JOB_RUNNING) return 1;
    taskring_job_status_free(st);
    nanosleep(&ms10, NULL);
  }
  return 0;
}

/* Takes one job, failing the scenario if none comes. */
static taskring_job* take_one(taskring_worker* w) {
  taskring_job* job = NULL;
  taskring_code c = taskring_worker_take(w, 5000, &job);
  if (c != TASKRING_OK) {
    fprintf(stderr, "take: %s (%s)\n", taskring_code_name(c), taskring_last_error());
    exit(1);
  }
  REQUIRE(job != NULL);
  return job;
}

/* ---- basic: every call against a live daemon ---- */

static void test_names_and_version(void) {
  char want[32];
  snprintf(want, sizeof(want), "%d.%d.%d", TASKRING_VERSION_MAJOR, TASKRING_VERSION_MINOR,
           TASKRING_VERSION_PATCH);
  CHECK(strcmp(taskring_version(), want) == 0);
  CHECK(strcmp(taskring_code_name(TASKRING_OK), "OK") == 0);
  CHECK(strcmp(taskring_code_name(TASKRING_BUSY), "Busy") == 0);
  CHECK(strcmp(taskring_code_name(TASKRING_NOT_FOUND), "NotFound") == 0);
  CHECK(strcmp(taskring_code_name(TASKRING_RESOURCE_EXHAUSTED), "ResourceExhausted") == 0);
  CHECK(strcmp(taskring_code_name((taskring_code)77), "Unknown") == 0);
  CHECK(strcmp(taskring_job_state_name(TASKRING_JOB_COMPLETED), "completed") == 0);
  CHECK(strcmp(taskring_job_state_name(TASKRING_JOB_QUEUED), "queued") == 0);
  CHECK(taskring_job_state_is_terminal(TASKRING_JOB_DEAD) == 1);
  CHECK(taskring_job_state_is_terminal(TASKRING_JOB_RUNNING) == 0);
  CHECK(strcmp(taskring_cancel_outcome_name(TASKRING_CANCEL_REQUESTED), "requested") == 0);
  CHECK(strcmp(taskring_cancel_outcome_name(TASKRING_CANCEL_NONE), "none") == 0);
}

/* Enqueue with every option, status by id and token, take, progress, touch, complete with a
 * binary result, wait, result by id and token. */
static void test_enqueue_take_complete(taskring_producer* p, taskring_jobs* j, taskring_worker* w) {
  static const char payload[] = {'a', '\0', 'b', '\0', 'c'};
  static const char result[] = {'r', '\0', 's'};
  taskring_header headers[2];
  taskring_enqueue_options eo;
  taskring_enqueue_result r;
  taskring_job_status st;
  taskring_job* job;
  taskring_token tok;
  const void* data;
  size_t len;
  const char *name, *value;
  void* buf;

  headers[0].name = "trace";
  headers[0].value = "abc";
  headers[1].name = "tenant";
  headers[1].value = "t-1";
  taskring_enqueue_options_init(&eo);
  CHECK(eo.struct_size == sizeof(eo));
  CHECK(eo.priority == TASKRING_PRIORITY_DEFAULT);
  eo.priority = 8; /* taken before the default-priority jobs */
  eo.type = "img.resize";
  eo.max_attempts = 3;
  eo.timeout_ms = 60000;
  eo.headers = headers;
  eo.headers_count = 2;
  CHECK_CODE(taskring_producer_enqueue(p, payload, sizeof(payload), &eo, &r), TASKRING_OK);
  CHECK(r.code == TASKRING_OK);
  REQUIRE(r.id != 0);
  CHECK(r.duplicate == 0);
  CHECK(is_token(r.token.text));

  /* Status from the producer and from the shared client, by id and by token. */
  CHECK_CODE(taskring_producer_status(p, r.id, &st), TASKRING_OK);
  CHECK(st.id == r.id);
  CHECK(st.state == TASKRING_JOB_QUEUED);
  taskring_job_status_free(&st);
  CHECK_CODE(taskring_jobs_status(j, r.id, &st), TASKRING_OK);
  CHECK(st.state == TASKRING_JOB_QUEUED);
  CHECK(st.priority == 8);
  CHECK(st.max_attempts == 3);
  CHECK(st.type != NULL && strcmp(st.type, "img.resize") == 0);
  CHECK(st.token != NULL && strcmp(st.token, r.token.text) == 0);
  CHECK(st.error != NULL && st.error[0] == '\0');
  CHECK(st.enqueued_unix_ns > 0);
  REQUIRE(st.headers_count == 2 && st.headers != NULL);
  CHECK(strcmp(st.headers[0].name, "trace") == 0 && strcmp(st.headers[0].value, "abc") == 0);
  CHECK(strcmp(st.headers[1].name, "tenant") == 0 && strcmp(st.headers[1].value, "t-1") == 0);
  taskring_job_status_free(&st);
  CHECK(st.token == NULL && st.headers == NULL); /* freed and zeroed */
  taskring_job_status_free(&st);                 /* a second free is harmless */
  CHECK_CODE(taskring_jobs_status_by_token(j, r.token.text, &st), TASKRING_OK);
  CHECK(st.id == r.id);
  taskring_job_status_free(&st);

  /* The worker sees what the producer set. */
  job = take_one(w);
  CHECK(taskring_job_id(job) == r.id);
  CHECK(taskring_job_attempt(job) == 1);
  CHECK(taskring_job_max_attempts(job) == 3);
  CHECK(taskring_job_priority(job) == 8);
  CHECK(taskring_job_timeout_ms(job) == 60000);
  CHECK(taskring_job_enqueued_unix_ns(job) > 0);
  CHECK(taskring_job_cancel_requested(job) == 0);
  CHECK(strcmp(taskring_job_type(job), "img.resize") == 0);
  CHECK_CODE(taskring_job_payload(job, &data, &len), TASKRING_OK);
  CHECK(len == sizeof(payload) && memcmp(data, payload, len) == 0);
  CHECK_CODE(taskring_job_token(job, &tok), TASKRING_OK);
  CHECK(strcmp(tok.text, r.token.text) == 0);
  CHECK(taskring_job_headers_count(job) == 2);
  CHECK_CODE(taskring_job_header(job, 1, &name, &value), TASKRING_OK);
  CHECK(strcmp(name, "tenant") == 0 && strcmp(value, "t-1") == 0);
  CHECK_CODE(taskring_job_header(job, 2, &name, &value), TASKRING_NOT_FOUND);
  CHECK(name == NULL && value == NULL);
  CHECK(taskring_job_header_value(job, "trace") != NULL &&
        strcmp(taskring_job_header_value(job, "trace"), "abc") == 0);
  CHECK(taskring_job_header_value(job, "nope") == NULL);

  /* Running: progress shows in the status at once; touch extends the lease. */
  CHECK(taskring_worker_lease_ms(w) > 0);
  CHECK_CODE(taskring_worker_progress(w, job, 40, "resizing"), TASKRING_OK);
  CHECK_CODE(taskring_jobs_status(j, r.id, &st), TASKRING_OK);
  CHECK(st.state == TASKRING_JOB_RUNNING);
  CHECK(st.attempt == 1);
  CHECK(st.has_progress == 1 && st.progress_percent == 40);
  CHECK(st.progress_message != NULL && strcmp(st.progress_message, "resizing") == 0);
  taskring_job_status_free(&st);
  CHECK_CODE(taskring_worker_progress(w, job, 50, NULL), TASKRING_OK);
  CHECK_CODE(taskring_worker_touch(w, job), TASKRING_OK);

  /* Waiting on a running job times out with its status. */
  CHECK_CODE(taskring_jobs_wait(j, r.id, 30, &st), TASKRING_TIMED_OUT);
  CHECK(st.state == TASKRING_JOB_RUNNING);
  taskring_job_status_free(&st);

  CHECK_CODE(taskring_worker_complete_with_result(w, job, result, sizeof(result)), TASKRING_OK);
  taskring_job_free(job);

  CHECK_CODE(taskring_jobs_wait(j, r.id, 5000, &st), TASKRING_OK);
  CHECK(st.state == TASKRING_JOB_COMPLETED);
  CHECK(st.result_bytes == sizeof(result));
  CHECK(st.finished_unix_ns >= st.started_unix_ns && st.started_unix_ns > 0);
  taskring_job_status_free(&st);
  CHECK_CODE(taskring_jobs_wait_by_token(j, r.token.text, 0, NULL), TASKRING_OK);

  buf = NULL;
  len = 0;
  CHECK_CODE(taskring_jobs_result(j, r.id, &buf, &len), TASKRING_OK);
  CHECK(buf != NULL && len == sizeof(result) && memcmp(buf, result, len) == 0);
  taskring_free(buf);
  CHECK_CODE(taskring_jobs_result_by_token(j, r.token.text, &buf, &len), TASKRING_OK);
  CHECK(buf != NULL && len == sizeof(result) && memcmp(buf, result, len) == 0);
  taskring_free(buf);
}

/* An idempotency key: the second enqueue creates nothing and answers the first job. Failing it
 * with max_attempts 1 makes it dead, with the error recorded. */
static void test_duplicate_and_fail(taskring_producer* p, taskring_jobs* j, taskring_worker* w) {
  taskring_enqueue_options eo;
  taskring_enqueue_result first, second;
  taskring_job_status st;
  taskring_job* job;
  void* buf = (void*)&buf;
  size_t len = 99;

  taskring_enqueue_options_init(&eo);
  eo.idempotency_key = "order-42";
  eo.max_attempts = 1;
  CHECK_CODE(taskring_producer_enqueue(p, "x", 1, &eo, &first), TASKRING_OK);
  CHECK(first.duplicate == 0);
  CHECK_CODE(taskring_producer_enqueue(p, "y", 1, &eo, &second), TASKRING_OK);
  CHECK(second.duplicate == 1);
  CHECK(second.id == first.id);
  CHECK(strcmp(second.token.text, first.token.text) == 0);

  job = take_one(w);
  CHECK(taskring_job_id(job) == first.id);
  CHECK_CODE(taskring_worker_fail(w, job, "boom: disk full"), TASKRING_OK);
  taskring_job_free(job);
  CHECK_CODE(taskring_jobs_wait(j, first.id, 5000, &st), TASKRING_OK);
  CHECK(st.state == TASKRING_JOB_DEAD);
  CHECK(st.error != NULL && strcmp(st.error, "boom: disk full") == 0);
  taskring_job_status_free(&st);
  /* No result for a dead job: NOT_FOUND saying why, and the out-params cleared. */
  CHECK_CODE(taskring_jobs_result(j, first.id, &buf, &len), TASKRING_NOT_FOUND);
  CHECK(buf == NULL && len == 0);

  /* Fail without an error: retried (max_attempts 2), then taken again as attempt 2. */
  taskring_enqueue_options_init(&eo);
  eo.max_attempts = 2;
  CHECK_CODE(taskring_producer_enqueue(p, "z", 1, &eo, &first), TASKRING_OK);
  job = take_one(w);
  CHECK(taskring_job_id(job) == first.id);
  CHECK_CODE(taskring_worker_fail(w, job, NULL), TASKRING_OK);
  taskring_job_free(job);
  /* Fail hands the outcome to the daemon and returns; the status shows it once applied. */
  REQUIRE(wait_while_running(j, first.id, &st));
  if (!(st.state == TASKRING_JOB_RETRYING || st.state == TASKRING_JOB_DELAYED ||
        st.state == TASKRING_JOB_QUEUED)) {
    fprintf(stderr, "state after a failed attempt: %s\n", taskring_job_state_name(st.state));
    ++failures;
  }
  CHECK(!taskring_job_state_is_terminal(st.state));
  taskring_job_status_free(&st);
  /* Its retry may be delayed by the daemon's backoff: cancel it instead of waiting. */
  {
    taskring_cancel_outcome co;
    CHECK_CODE(taskring_jobs_cancel(j, first.id, &co), TASKRING_OK);
    CHECK(co == TASKRING_CANCEL_DONE || co == TASKRING_CANCEL_REQUESTED);
  }
}

/* A released job runs again at once as the same attempt: with max_attempts 1 it is taken
 * twice and never dead-lettered. A second release of the same hand-out is stale. */
static void test_release(taskring_producer* p, taskring_jobs* j, taskring_worker* w) {
  taskring_enqueue_options eo;
  taskring_enqueue_result r;
  taskring_job_status st;
  taskring_job* job;

  taskring_enqueue_options_init(&eo);
  eo.max_attempts = 1;
  CHECK_CODE(taskring_producer_enqueue(p, "later", 5, &eo, &r), TASKRING_OK);
  job = take_one(w);
  CHECK(taskring_job_id(job) == r.id && taskring_job_attempt(job) == 1);
  CHECK_CODE(taskring_worker_release(w, job), TASKRING_OK);
  CHECK_CODE(taskring_worker_release(w, job), TASKRING_STALE_LEASE);
  taskring_job_free(job);
  job = take_one(w);
  CHECK(taskring_job_id(job) == r.id && taskring_job_attempt(job) == 1);
  CHECK_CODE(taskring_worker_complete(w, job), TASKRING_OK);
  taskring_job_free(job);
  CHECK_CODE(taskring_jobs_wait(j, r.id, 5000, &st), TASKRING_OK);
  CHECK(st.state == TASKRING_JOB_COMPLETED);
  taskring_job_status_free(&st);
}

/* A batch of binary payloads (NUL bytes, an empty one), taken in one call and completed in
 * one call. */
static void test_batch(taskring_producer* p, taskring_jobs* j, taskring_worker* w) {
  static const char b0[] = {'\0'};
  static const char b1[] = {'1', '\0', '1'};
  static const char b3[] = {'\0', '\0', '3', '\0'};
  taskring_payload payloads[4];
  taskring_enqueue_result results[4];
  taskring_job* jobs[8];
  taskring_code outcomes[8];
  size_t got = 0, taken, i, k;
  int seen[4] = {0, 0, 0, 0};
  void* buf;
  size_t len;

  payloads[0].data = b0;
  payloads[0].len = sizeof(b0);
  payloads[1].data = b1;
  payloads[1].len = sizeof(b1);
  payloads[2].data = NULL; /* empty */
  payloads[2].len = 0;
  payloads[3].data = b3;
  payloads[3].len = sizeof(b3);
  CHECK_CODE(taskring_producer_enqueue_batch(p, payloads, 4, NULL, results), TASKRING_OK);
  for (i = 0; i < 4; ++i) {
    CHECK(results[i].code == TASKRING_OK);
    CHECK(results[i].id != 0);
    CHECK(is_token(results[i].token.text));
    CHECK(i == 0 || results[i].id != results[i - 1].id);
  }

  while (got < 4) {
    CHECK_CODE(taskring_worker_take_many(w, jobs, 8, &taken, 5000), TASKRING_OK);
    REQUIRE(taken >= 1 && taken <= 4 - got);
    for (i = 0; i < taken; ++i) {
      const void* data;
      size_t n;
      CHECK_CODE(taskring_job_payload(jobs[i], &data, &n), TASKRING_OK);
      for (k = 0; k < 4; ++k) {
        if (taskring_job_id(jobs[i]) != results[k].id) continue;
        seen[k] = 1;
        CHECK(n == payloads[k].len);
        CHECK(n == 0 || memcmp(data, payloads[k].data, n) == 0);
      }
    }
    for (i = 0; i < taken; ++i) outcomes[i] = TASKRING_INTERNAL;
    CHECK_CODE(taskring_worker_complete_many(w, jobs, taken, outcomes), TASKRING_OK);
    for (i = 0; i < taken; ++i) {
      CHECK(outcomes[i] == TASKRING_OK);
      taskring_job_free(jobs[i]);
    }
    got += taken;
  }
  for (k = 0; k < 4; ++k) {
    CHECK(seen[k]);
    CHECK_CODE(taskring_jobs_wait(j, results[k].id, 5000, NULL), TASKRING_OK);
  }
  /* Completed without a result: an empty one, in a buffer that is still not NULL. */
  buf = NULL;
  len = 99;
  CHECK_CODE(taskring_jobs_result(j, results[0].id, &buf, &len), TASKRING_OK);
  CHECK(buf != NULL && len == 0);
  taskring_free(buf);
}

/* Cancel: a delayed job (cancelled for good), again by token (already finished), and a running
 * one (requested: the handler sees it). */
static void test_cancel(taskring_producer* p, taskring_jobs* j, taskring_worker* w) {
  taskring_enqueue_options eo;
  taskring_enqueue_result r;
  taskring_cancel_outcome co;
  taskring_job_status st;
  taskring_job* job;

  taskring_enqueue_options_init(&eo);
  eo.delay_ms = 600000;
  CHECK_CODE(taskring_producer_enqueue(p, "later", 5, &eo, &r), TASKRING_OK);
  CHECK_CODE(taskring_jobs_status(j, r.id, &st), TASKRING_OK);
  CHECK(st.state == TASKRING_JOB_DELAYED);
  taskring_job_status_free(&st);
  CHECK_CODE(taskring_jobs_cancel(j, r.id, &co), TASKRING_OK);
  CHECK(co == TASKRING_CANCEL_DONE);
  CHECK_CODE(taskring_jobs_status_by_token(j, r.token.text, &st), TASKRING_OK);
  CHECK(st.state == TASKRING_JOB_CANCELLED);
  taskring_job_status_free(&st);
  CHECK_CODE(taskring_jobs_cancel_by_token(j, r.token.text, &co), TASKRING_OK);
  CHECK(co == TASKRING_CANCEL_ALREADY_FINISHED);

  CHECK_CODE(taskring_producer_enqueue(p, "now", 3, NULL, &r), TASKRING_OK);
  job = take_one(w);
  CHECK(taskring_job_id(job) == r.id);
  CHECK_CODE(taskring_jobs_cancel_by_token(j, r.token.text, &co), TASKRING_OK);
  CHECK(co == TASKRING_CANCEL_REQUESTED);
  CHECK(taskring_job_cancel_requested(job) == 1);
  CHECK_CODE(taskring_worker_fail(w, job, "cancelled by request"), TASKRING_OK);
  taskring_job_free(job);
  CHECK_CODE(taskring_jobs_wait_by_token(j, r.token.text, 5000, &st), TASKRING_OK);
  CHECK(st.state == TASKRING_JOB_CANCELLED);
  taskring_job_status_free(&st);
}

/* A worker declaring types takes only those. */
static void test_typed_worker(const char* queue, taskring_producer* p, taskring_worker* w) {
  const char* types[1];
  taskring_worker_options wo;
  taskring_worker* typed = NULL;
  taskring_enqueue_options eo;
  taskring_enqueue_result untyped_r, typed_r;
  taskring_job* job = NULL;

  types[0] = "mail.send";
  taskring_worker_options_init(&wo);
  wo.types = types;
  wo.types_count = 1;
  CHECK_CODE(taskring_worker_open(queue, &wo, &typed), TASKRING_OK);
  REQUIRE(typed != NULL);
  CHECK_CODE(taskring_producer_enqueue(p, "u", 1, NULL, &untyped_r), TASKRING_OK);
  taskring_enqueue_options_init(&eo);
  eo.type = "mail.send";
  CHECK_CODE(taskring_producer_enqueue(p, "t", 1, &eo, &typed_r), TASKRING_OK);
  job = take_one(typed);
  CHECK(taskring_job_id(job) == typed_r.id);
  CHECK_CODE(taskring_worker_complete(typed, job), TASKRING_OK);
  taskring_job_free(job);
  CHECK_CODE(taskring_worker_take(typed, 50, &job), TASKRING_TIMED_OUT);
  CHECK(job == NULL);
  taskring_worker_close(typed);
  job = take_one(w);
  CHECK(taskring_job_id(job) == untyped_r.id);
  CHECK_CODE(taskring_worker_complete(w, job), TASKRING_OK);
  taskring_job_free(job);
}

/* Bad input on live handles: a clear INVALID_ARGUMENT (or NOT_FOUND), never a crash. */
static void test_bad_input(taskring_producer* p, taskring_jobs* j, taskring_worker* w) {
  taskring_enqueue_options eo;
  taskring_enqueue_result r;
  taskring_job_status st;
  taskring_job* job = NULL;
  taskring_cancel_outcome co;
  char* big;
  uint32_t max = taskring_producer_max_payload(p);
  void* buf;
  size_t len, taken;
  const void* data;

  /* A payload over the queue's limit. */
  REQUIRE(max > 0);
  big = (char*)calloc(max + 1, 1);
  REQUIRE(big != NULL);
  CHECK_CODE(taskring_producer_enqueue(p, big, (size_t)max + 1, NULL, &r),
             TASKRING_INVALID_ARGUMENT);
  CHECK(r.code == TASKRING_INVALID_ARGUMENT && r.id == 0);
  CHECK(contains(taskring_last_error(), "InvalidArgument: "));
  free(big);

  /* Options out of range or too short. */
  taskring_enqueue_options_init(&eo);
  eo.priority = 12;
  CHECK_CODE(taskring_producer_enqueue(p, "x", 1, &eo, &r), TASKRING_INVALID_ARGUMENT);
  CHECK(contains(taskring_last_error(), "priority 12"));
  taskring_enqueue_options_init(&eo);
  eo.type = "bad type!";
  CHECK_CODE(taskring_producer_enqueue(p, "x", 1, &eo, &r), TASKRING_INVALID_ARGUMENT);
  taskring_enqueue_options_init(&eo);
  eo.headers_count = 1;
  CHECK_CODE(taskring_producer_enqueue(p, "x", 1, &eo, &r), TASKRING_INVALID_ARGUMENT);
  CHECK(contains(taskring_last_error(), "headers"));
  taskring_enqueue_options_init(&eo);
  eo.struct_size = 4;
  CHECK_CODE(taskring_producer_enqueue(p, "x", 1, &eo, &r), TASKRING_INVALID_ARGUMENT);
  CHECK(contains(taskring_last_error(), "taskring_enqueue_options.struct_size is 4"));
  {
    taskring_payload two[2];
    taskring_enqueue_result rs[2];
    two[0].data = "a";
    two[0].len = 1;
    two[1].data = NULL;
    two[1].len = 3;
    CHECK_CODE(taskring_producer_enqueue_batch(p, two, 2, NULL, rs), TASKRING_INVALID_ARGUMENT);
    CHECK(contains(taskring_last_error(), "payloads[1].data is NULL"));
    CHECK(rs[0].code == TASKRING_INVALID_ARGUMENT && rs[1].code == TASKRING_INVALID_ARGUMENT);
  }
  taskring_enqueue_options_init(&eo);
  eo.idempotency_key = "k";
  {
    taskring_payload one;
    one.data = "x";
    one.len = 1;
    CHECK_CODE(taskring_producer_enqueue_batch(p, &one, 1, &eo, &r), TASKRING_INVALID_ARGUMENT);
    CHECK(r.code == TASKRING_INVALID_ARGUMENT && r.id == 0); /* the item failed with the call */
  }

  /* NULL arguments. */
  CHECK_CODE(taskring_producer_enqueue(NULL, "x", 1, NULL, &r), TASKRING_INVALID_ARGUMENT);
  CHECK(contains(taskring_last_error(), "producer is NULL"));
  CHECK_CODE(taskring_producer_enqueue(p, NULL, 5, NULL, &r), TASKRING_INVALID_ARGUMENT);
  CHECK(contains(taskring_last_error(), "data is NULL"));
  CHECK_CODE(taskring_producer_enqueue(p, "x", 1, NULL, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_producer_enqueue_batch(p, NULL, 2, NULL, &r), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_producer_enqueue_batch(NULL, NULL, 0, NULL, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_producer_status(p, 1, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_producer_status(NULL, 1, &st), TASKRING_INVALID_ARGUMENT);
  CHECK(taskring_producer_retry_after_ms(NULL) == 0);
  CHECK(taskring_producer_max_payload(NULL) == 0);
  CHECK_CODE(taskring_jobs_status(NULL, 1, &st), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_jobs_status(j, 1, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_jobs_status_by_token(j, NULL, &st), TASKRING_INVALID_ARGUMENT);
  CHECK(contains(taskring_last_error(), "token is NULL"));
  CHECK_CODE(taskring_jobs_result(j, 1, NULL, &len), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_jobs_result_by_token(j, NULL, &buf, &len), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_jobs_wait(NULL, 1, 0, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_jobs_wait_by_token(j, NULL, 0, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_jobs_cancel(j, 1, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_jobs_cancel_by_token(j, NULL, &co), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_worker_take(NULL, 0, &job), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_worker_take(w, 0, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_worker_take_many(w, NULL, 4, &taken, 0), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_worker_take_many(w, &job, 0, &taken, 0), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_worker_take_many(w, &job, 1, NULL, 0), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_worker_complete(w, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK(contains(taskring_last_error(), "job is NULL"));
  CHECK_CODE(taskring_worker_complete(NULL, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_worker_complete_with_result(w, NULL, "r", 1), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_worker_complete_many(w, NULL, 2, NULL), TASKRING_INVALID_ARGUMENT);
  {
    taskring_job* none[1];
    none[0] = NULL;
    CHECK_CODE(taskring_worker_complete_many(w, none, 1, NULL), TASKRING_INVALID_ARGUMENT);
    CHECK(contains(taskring_last_error(), "jobs[0] is NULL"));
  }
  CHECK_CODE(taskring_worker_fail(w, NULL, "e"), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_worker_progress(w, NULL, 1, "m"), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_worker_touch(NULL, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_worker_release(w, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK(taskring_worker_lease_ms(NULL) == 0);
  CHECK_CODE(taskring_job_payload(NULL, &data, &len), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_job_token(NULL, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_job_header(NULL, 0, NULL, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK(taskring_job_id(NULL) == 0 && taskring_job_attempt(NULL) == 0);
  CHECK(strcmp(taskring_job_type(NULL), "") == 0);
  CHECK(taskring_job_headers_count(NULL) == 0);
  CHECK(taskring_job_header_value(NULL, "x") == NULL);

  /* Unknown jobs and malformed tokens. */
  CHECK_CODE(taskring_jobs_status(j, 987654321, &st), TASKRING_NOT_FOUND);
  taskring_job_status_free(&st);
  CHECK_CODE(taskring_jobs_result(j, 987654321, &buf, &len), TASKRING_NOT_FOUND);
  CHECK_CODE(taskring_jobs_status_by_token(j, "not-a-token", &st), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_jobs_cancel(j, 987654321, &co), TASKRING_NOT_FOUND);
  CHECK(co == TASKRING_CANCEL_NONE);

  /* Nothing to take. */
  CHECK_CODE(taskring_worker_take(w, 20, &job), TASKRING_TIMED_OUT);
  CHECK(job == NULL);
}

/* Dead letters: a job that failed its only attempt is listed and read with its bytes, requeued
 * once as a new job (the letter then gone), and the rest purged. */
static void test_dead_letters(const char* queue, taskring_producer* p, taskring_jobs* j,
                              taskring_worker* w) {
  static const char payload[] = {'d', '\0', 'e', 'a', 'd'};
  taskring_header header;
  taskring_enqueue_options eo;
  taskring_enqueue_result r;
  taskring_dead_letters_options dopts;
  taskring_dead_letters* dl = NULL;
  taskring_dead_letter letter;
  taskring_job* job;
  uint64_t* ids = NULL;
  uint64_t new_id = 0, purged = 0;
  size_t count = 0, i;
  int listed = 0;
  const void* data;
  size_t len;

  header.name = "trace";
  header.value = "dl-1";
  taskring_enqueue_options_init(&eo);
  eo.max_attempts = 1;
  eo.type = "dl.test";
  eo.headers = &header;
  eo.headers_count = 1;
  CHECK_CODE(taskring_producer_enqueue(p, payload, sizeof(payload), &eo, &r), TASKRING_OK);
  job = take_one(w);
  CHECK(taskring_job_id(job) == r.id);
  CHECK_CODE(taskring_worker_fail(w, job, "dl boom"), TASKRING_OK);
  taskring_job_free(job);
  CHECK_CODE(taskring_jobs_wait(j, r.id, 5000, NULL), TASKRING_OK);

  taskring_dead_letters_options_init(&dopts);
  CHECK(dopts.struct_size == sizeof(dopts) && dopts.dir == NULL);
  CHECK_CODE(taskring_dead_letters_open(queue, &dopts, &dl), TASKRING_OK);
  REQUIRE(dl != NULL);
  CHECK_CODE(taskring_dead_letters_list(dl, &ids, &count), TASKRING_OK);
  for (i = 0; i < count; ++i) listed |= ids[i] == r.id;
  CHECK(listed);
  taskring_free(ids);

  CHECK_CODE(taskring_dead_letters_read(dl, r.id, &letter), TASKRING_OK);
  CHECK(letter.job_id == r.id);
  CHECK(letter.attempts == 1 && letter.max_attempts == 1);
  CHECK(strcmp(letter.reason, "failed") == 0);
  CHECK(strcmp(letter.type, "dl.test") == 0);
  CHECK(letter.idempotency_key != NULL && letter.idempotency_key[0] == '\0');
  CHECK(letter.headers_count == 1 && strcmp(letter.headers[0].value, "dl-1") == 0);
  CHECK(letter.payload_len == sizeof(payload) &&
        memcmp(letter.payload, payload, sizeof(payload)) == 0);
  CHECK(letter.dead_unix_ns >= letter.enqueued_unix_ns && letter.enqueued_unix_ns > 0);
  taskring_dead_letter_free(&letter);
  CHECK(letter.payload == NULL);

  /* Requeue: a new job with the same bytes and type, fresh attempts; the letter is gone. */
  CHECK_CODE(taskring_dead_letters_requeue(dl, r.id, &new_id), TASKRING_OK);
  CHECK(new_id > r.id);
  CHECK_CODE(taskring_dead_letters_read(dl, r.id, &letter), TASKRING_NOT_FOUND);
  CHECK(contains(taskring_last_error(), "no dead letter"));
  CHECK_CODE(taskring_dead_letters_requeue(dl, r.id, &new_id), TASKRING_NOT_FOUND);
  CHECK(new_id == 0);
  job = take_one(w);
  CHECK(taskring_job_attempt(job) == 1);
  CHECK(strcmp(taskring_job_type(job), "dl.test") == 0);
  CHECK_CODE(taskring_job_payload(job, &data, &len), TASKRING_OK);
  CHECK(len == sizeof(payload) && memcmp(data, payload, len) == 0);
  CHECK_CODE(taskring_worker_complete(w, job), TASKRING_OK);
  taskring_job_free(job);

  /* Purge: one that is not there, then all (test_duplicate_and_fail left one). */
  CHECK_CODE(taskring_dead_letters_purge(dl, 987654321), TASKRING_NOT_FOUND);
  CHECK_CODE(taskring_dead_letters_purge_all(dl, &purged), TASKRING_OK);
  CHECK(purged >= 1);
  CHECK_CODE(taskring_dead_letters_list(dl, &ids, &count), TASKRING_OK);
  CHECK(count == 0 && ids == NULL);

  /* Bad input. */
  CHECK_CODE(taskring_dead_letters_list(NULL, &ids, &count), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_dead_letters_list(dl, NULL, &count), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_dead_letters_read(dl, 1, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_dead_letters_requeue(dl, 1, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_dead_letters_purge(NULL, 1), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_dead_letters_purge_all(dl, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK(taskring_dead_letters_retry_after_ms(NULL) == 0);
  taskring_dead_letters_close(dl);
  CHECK_CODE(taskring_dead_letters_open(NULL, NULL, &dl), TASKRING_INVALID_ARGUMENT);
  CHECK(contains(taskring_last_error(), "no dir"));
  dopts.struct_size = 2;
  CHECK_CODE(taskring_dead_letters_open(queue, &dopts, &dl), TASKRING_INVALID_ARGUMENT);
  CHECK(dl == NULL);
}

static int run_basic(const char* queue) {
  taskring_producer_options po;
  taskring_jobs_options jo;
  taskring_worker_options wo;
  taskring_producer* p = NULL;
  taskring_jobs* j = NULL;
  taskring_worker* w = NULL;

  test_names_and_version();
  taskring_producer_options_init(&po);
  CHECK(po.struct_size == sizeof(po) && po.attach_timeout_ms == 5000);
  po.wait_for_daemon_ms = 1000;
  CHECK_CODE(taskring_producer_open(queue, &po, &p), TASKRING_OK);
  taskring_jobs_options_init(&jo);
  CHECK_CODE(taskring_jobs_open(queue, &jo, &j), TASKRING_OK);
  taskring_worker_options_init(&wo);
  CHECK_CODE(taskring_worker_open(queue, &wo, &w), TASKRING_OK);
  REQUIRE(p != NULL && j != NULL && w != NULL);

  test_enqueue_take_complete(p, j, w);
  test_duplicate_and_fail(p, j, w);
  test_release(p, j, w);
  test_batch(p, j, w);
  test_cancel(p, j, w);
  test_typed_worker(queue, p, w);
  test_dead_letters(queue, p, j, w);
  test_bad_input(p, j, w);

  taskring_worker_close(w);
  taskring_jobs_close(j);
  taskring_producer_close(p);
  return failures == 0 ? 0 : 1;
}

/* ---- busy: a full queue answers BUSY at once, with a retry hint ---- */

static int run_busy(const char* queue) {
  taskring_producer* p = NULL;
  taskring_enqueue_result r;
  taskring_enqueue_result results[3];
  taskring_payload payloads[3];
  taskring_code c = TASKRING_OK;
  int i, accepted = 0;

  CHECK_CODE(taskring_producer_open(queue, NULL, &p), TASKRING_OK);
  REQUIRE(p != NULL);
  for (i = 0; i < 100; ++i) {
    c = taskring_producer_enqueue(p, "job", 3, NULL, &r);
    if (c != TASKRING_OK) break;
    ++accepted;
  }
  CHECK(c == TASKRING_BUSY);
  CHECK(r.code == TASKRING_BUSY && r.id == 0);
  CHECK(accepted >= 1 && accepted <= 4);
  CHECK(strcmp(taskring_last_error(), "Busy") == 0);
  printf("busy after %d jobs; retry_after_ms %u\n", accepted,
         (unsigned)taskring_producer_retry_after_ms(p));
  CHECK(taskring_producer_retry_after_ms(p) > 0);

  /* A batch into the full queue: the call works, every item is BUSY. */
  for (i = 0; i < 3; ++i) {
    payloads[i].data = "b";
    payloads[i].len = 1;
  }
  CHECK_CODE(taskring_producer_enqueue_batch(p, payloads, 3, NULL, results), TASKRING_OK);
  for (i = 0; i < 3; ++i) CHECK(results[i].code == TASKRING_BUSY && results[i].id == 0);
  taskring_producer_close(p);
  return failures == 0 ? 0 : 1;
}

/* ---- missing: no daemon; and the checks that need none ---- */

static int run_missing(const char* queue) {
  taskring_producer_options po;
  taskring_worker_options wo;
  taskring_jobs_options jo;
  taskring_producer* p = (taskring_producer*)&po; /* not NULL: open must clear it */
  taskring_worker* w = (taskring_worker*)&wo;
  taskring_jobs* j = (taskring_jobs*)&jo;
  taskring_job_status zeroed;

  CHECK_CODE(taskring_producer_open(queue, NULL, &p), TASKRING_NOT_FOUND);
  CHECK(p == NULL);
  CHECK(contains(taskring_last_error(), "NotFound: "));
  CHECK(contains(taskring_last_error(), queue));
  CHECK_CODE(taskring_worker_open(queue, NULL, &w), TASKRING_NOT_FOUND);
  CHECK(w == NULL);
  CHECK_CODE(taskring_jobs_open(queue, NULL, &j), TASKRING_NOT_FOUND);
  CHECK(j == NULL);
  {
    taskring_dead_letters* dl = NULL;
    taskring_dead_letters_options dopts;
    uint64_t* ids = NULL;
    size_t count = 1;
    uint64_t purged = 1;
    taskring_dead_letter letter;
    CHECK_CODE(taskring_dead_letters_open(queue, NULL, &dl), TASKRING_NOT_FOUND);
    CHECK(contains(taskring_last_error(), "is not running"));
    /* A directory where no job ever died: nothing listed, nothing to read. */
    taskring_dead_letters_options_init(&dopts);
    dopts.dir = "/nonexistent-taskring-wal-dir";
    CHECK_CODE(taskring_dead_letters_open(NULL, &dopts, &dl), TASKRING_OK);
    REQUIRE(dl != NULL);
    CHECK_CODE(taskring_dead_letters_list(dl, &ids, &count), TASKRING_OK);
    CHECK(ids == NULL && count == 0);
    CHECK_CODE(taskring_dead_letters_read(dl, 1, &letter), TASKRING_NOT_FOUND);
    CHECK(contains(taskring_last_error(), "no dead letters at /nonexistent-taskring-wal-dir"));
    CHECK_CODE(taskring_dead_letters_purge_all(dl, &purged), TASKRING_OK);
    CHECK(purged == 0);
    taskring_dead_letters_close(dl);
  }

  /* NULL arguments. */
  CHECK_CODE(taskring_producer_open(NULL, NULL, &p), TASKRING_INVALID_ARGUMENT);
  CHECK(contains(taskring_last_error(), "queue is NULL"));
  CHECK_CODE(taskring_producer_open(queue, NULL, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_worker_open(NULL, NULL, &w), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_worker_open(queue, NULL, NULL), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_jobs_open(NULL, NULL, &j), TASKRING_INVALID_ARGUMENT);
  CHECK_CODE(taskring_jobs_open(queue, NULL, NULL), TASKRING_INVALID_ARGUMENT);

  /* Options structs too small (built against no version of the header). */
  taskring_producer_options_init(&po);
  po.struct_size = 0;
  CHECK_CODE(taskring_producer_open(queue, &po, &p), TASKRING_INVALID_ARGUMENT);
  CHECK(contains(taskring_last_error(), "taskring_producer_options.struct_size is 0"));
  taskring_worker_options_init(&wo);
  wo.struct_size = sizeof(wo) - 1;
  CHECK_CODE(taskring_worker_open(queue, &wo, &w), TASKRING_INVALID_ARGUMENT);
  CHECK(contains(taskring_last_error(), "taskring_worker_options.struct_size"));
  taskring_jobs_options_init(&jo);
  jo.struct_size = 8;
  CHECK_CODE(taskring_jobs_open(queue, &jo, &j), TASKRING_INVALID_ARGUMENT);
  CHECK(contains(taskring_last_error(), "taskring_jobs_options.struct_size"));
  /* A worker's types array that is NULL with a count. */
  taskring_worker_options_init(&wo);
  wo.types_count = 2;
  CHECK_CODE(taskring_worker_open(queue, &wo, &w), TASKRING_INVALID_ARGUMENT);

  /* Releasing nothing is harmless. */
  taskring_producer_close(NULL);
  taskring_worker_close(NULL);
  taskring_jobs_close(NULL);
  taskring_dead_letters_close(NULL);
  taskring_dead_letter_free(NULL);
  taskring_job_free(NULL);
  taskring_free(NULL);
  taskring_job_status_free(NULL);
  memset(&zeroed, 0, sizeof(zeroed));
  taskring_job_status_free(&zeroed);
  taskring_producer_options_init(NULL);
  taskring_enqueue_options_init(NULL);
  return failures == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  int rc;
  if (argc != 3) {
    fprintf(stderr, "usage: %s basic|busy|missing QUEUE\n", argv[0]);
    return 2;
  }
  if (strcmp(argv[1], "basic") == 0) {
    rc = run_basic(argv[2]);
  } else if (strcmp(argv[1], "busy") == 0) {
    rc = run_busy(argv[2]);
  } else if (strcmp(argv[1], "missing") == 0) {
    rc = run_missing(argv[2]);
  } else {
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  printf("capi_c_test %s: %d failed checks\n", argv[1], failures);
  return rc;
}
