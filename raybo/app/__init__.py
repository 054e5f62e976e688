"""The ``raybo`` command and its reports, built on the library: ``raybo tune`` / ``resume`` /
``train`` on the bundled trainables, progress lines, run directories, tables, files and plots,
and the checks of a cluster's capacity and ``cluster.yaml``. Nothing in ``raybo`` outside this
package imports it."""
