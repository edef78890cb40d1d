/* include/taskring/taskring.h alone, compiled as C99 with -Wall -Wextra -pedantic -Werror
 * (tests/CMakeLists.txt): the header needs nothing but the C standard library. */
#include "taskring/taskring.h"

/* ISO C forbids an empty translation unit; this also checks a few types are complete. */
int taskring_header_c99_check(void);
int taskring_header_c99_check(void) {
  taskring_token t;
  taskring_job_status st;
  t.text[0] = '\0';
  st.state = TASKRING_JOB_QUEUED;
  return (int)sizeof(t) + (int)st.state + (int)TASKRING_OK;
}
