/* A downstream C program built against the installed libtaskring.so, once through pkg-config and
 * once through find_package(taskring) (install_test.sh). It needs no daemon: it prints the
 * library's version and expects opening a queue nobody serves to fail with NOT_FOUND and a
 * message. */
#include <stdio.h>
#include <string.h>
#include <taskring/taskring.h>

int main(int argc, char** argv) {
  const char* queue = argc > 1 ? argv[1] : "taskring_c_consumer_no_such_queue";
  char header_version[32];
  taskring_producer* p = NULL;
  taskring_code c;

  snprintf(header_version, sizeof(header_version), "%d.%d.%d", TASKRING_VERSION_MAJOR,
           TASKRING_VERSION_MINOR, TASKRING_VERSION_PATCH);
  printf("c_consumer: libtaskring %s (header %s)\n", taskring_version(), header_version);
  if (strcmp(taskring_version(), header_version) != 0) {
    fprintf(stderr, "c_consumer: the library's version is not the header's\n");
    return 1;
  }
  c = taskring_producer_open(queue, NULL, &p);
  printf("c_consumer: open '%s': %s (%s)\n", queue, taskring_code_name(c), taskring_last_error());
  if (c != TASKRING_NOT_FOUND || p != NULL || taskring_last_error()[0] == '\0') {
    fprintf(stderr, "c_consumer: expected NotFound with a message\n");
    taskring_producer_close(p);
    return 1;
  }
  return 0;
}
