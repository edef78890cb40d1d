# Installs what runs taskringd as a system service (included from CMakeLists.txt when
# TASKRING_INSTALL is on):
#   <prefix>/lib/systemd/system/taskringd@.service   template unit, instance = queue name
#   <prefix>/lib/sysusers.d/taskring.conf             the system user/group it runs as
#   <docdir>/example.conf                             every taskringd setting, commented
#   <docdir>/operations.md, README.md
# The unit in dist/ names /usr/bin/taskringd and /etc/taskring/; the installed copy names this
# build's CMAKE_INSTALL_FULL_BINDIR and _SYSCONFDIR instead (systemd needs absolute paths, so a
# later `cmake --install --prefix` elsewhere does not change them: configure with
# -DCMAKE_INSTALL_PREFIX=/usr for a system install).
set(TASKRING_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
  "Where the systemd unit is installed (relative to the prefix, or absolute)")
set(TASKRING_SYSUSERS_DIR "lib/sysusers.d" CACHE STRING
  "Where the sysusers.d entry is installed (relative to the prefix, or absolute)")

file(READ ${PROJECT_SOURCE_DIR}/dist/systemd/taskringd@.service _taskring_unit)
string(REPLACE "/usr/bin/taskringd" "${CMAKE_INSTALL_FULL_BINDIR}/taskringd"
  _taskring_unit "${_taskring_unit}")
string(REPLACE "/etc/taskring/" "${CMAKE_INSTALL_FULL_SYSCONFDIR}/taskring/"
  _taskring_unit "${_taskring_unit}")
string(REPLACE "/usr/share/doc/taskring/" "${CMAKE_INSTALL_FULL_DOCDIR}/"
  _taskring_unit "${_taskring_unit}")
set(_taskring_unit_out ${PROJECT_BINARY_DIR}/dist/taskringd@.service)
set(_taskring_unit_old "")
if(EXISTS ${_taskring_unit_out})
  file(READ ${_taskring_unit_out} _taskring_unit_old)
endif()
if(NOT _taskring_unit_old STREQUAL _taskring_unit)  # rewrite only on change
  file(WRITE ${_taskring_unit_out} "${_taskring_unit}")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/dist/systemd/taskringd@.service)

install(FILES ${_taskring_unit_out} DESTINATION ${TASKRING_SYSTEMD_UNIT_DIR})
install(FILES dist/sysusers.d/taskring.conf DESTINATION ${TASKRING_SYSUSERS_DIR})
install(FILES dist/taskring/example.conf docs/operations.md README.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
