# Sourced by the bench scripts. copy_work_tree ROOT SRC: the work tree's Sources, Tests (the
# manifest names a test target; without its folder SwiftPM refuses the package),
# Package.swift and Package.resolved copied into SRC (.build-bench-src), the one package path
# that builds into .build-bench, so that scratch path always builds from one place.
copy_work_tree() {
  local root="$1" src="$2"
  mkdir -p "$src"
  rm -rf "$src/Sources" "$src/Tests" "$src/.bench-commit"
  cp -R "$root/Sources" "$src/Sources"
  cp -R "$root/Tests" "$src/Tests"
  cp "$root/Package.swift" "$src/"
  if [[ -f "$root/Package.resolved" ]]; then cp -p "$root/Package.resolved" "$src/"; fi
}
