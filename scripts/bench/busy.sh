# Shared by the benchmark scripts: the tools are measured side by side on the machine's cores, so
# anything else running there moves the ratios. Says so (on stderr) before the rounds begin.
note_busy_machine() {
  local busy=()
  pgrep -x kube-apiserver >/dev/null && busy+=("the Kubernetes lab (scripts/k8s-lab/lab down stops it)")
  pgrep -f 'swift-(frontend|build|test)|capplanPackageTests' >/dev/null && busy+=("a Swift build or test run")
  if [ ${#busy[@]} -gt 0 ]; then
    local what; what=$(printf '%s; ' "${busy[@]}")
    echo "note: running beside this benchmark: ${what%; }. Its ratios will be noisier than usual." >&2
  fi
  return 0
}
