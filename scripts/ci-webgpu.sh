#!/usr/bin/env bash
# The webgpu suites on a software WebGPU adapter: Mesa llvmpipe through Dawn's OpenGL ES backend
# (EGL surfaceless, no display, no GPU needed). packages/tfjs-wasm-training/test/webgpu/*.webgpu.ts
# covers backend start-up; packages/core/test/webgpu/*.webgpu.ts kernels, DenseHybrid, the CLI demo.
#
#   bash scripts/ci-webgpu.sh          # after `npm run build` (the suites import the built packages)
#
# 1. Installs the Debian/Ubuntu packages for the adapter when they are missing (about 10-40 s;
#    nothing when present): libegl1 libgles2 (GL dispatch), libegl-mesa0 (Mesa's EGL),
#    libgl1-mesa-dri (llvmpipe).
# 2. Checks that Dawn finds an adapter and prints its name.
# 3. Runs the suites: backend selection, kernels, DenseHybrid training and scores, the CLI demo,
#    each against wasm: 34 tests, about 2 min with a cold Mesa shader cache on 2 shared cores
#    (55 s of CPU), 45 s with a warm one.
#
# When the machine cannot provide an adapter (no apt-get, apt unreachable, no root, no adapter
# after installing) the suite cannot run: this prints a loud "WEBGPU SUITE NOT RUN" banner with
# the reason and exits 0, or exits 1 when DENSEHYBRID_REQUIRE_WEBGPU=1. A suite that ran and
# failed always exits non-zero.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
require="${DENSEHYBRID_REQUIRE_WEBGPU:-0}"
packages=(libegl1 libgles2 libegl-mesa0 libgl1-mesa-dri)

not_run() {
  echo "" >&2
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  echo "!!! WEBGPU SUITE NOT RUN: $1" >&2
  echo "!!! (the webgpu backend is untested in this run; DENSEHYBRID_REQUIRE_WEBGPU=1 makes this fatal)" >&2
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  if [ "$require" = "1" ]; then exit 1; fi
  exit 0
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "webgpu: installing ${missing[*]} (software adapter: Mesa llvmpipe via EGL)"
  command -v apt-get >/dev/null || not_run "no apt-get to install ${missing[*]}"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null || not_run "not root and no passwordless sudo to install ${missing[*]}"
    sudo=(sudo -n)
  fi
  apt_opts=(-o DPkg::Lock::Timeout=120 -o Acquire::Retries=2 -o Acquire::http::Timeout=20)
  log=$(mktemp)
  if ! timeout 180 "${sudo[@]}" apt-get "${apt_opts[@]}" update -qq >"$log" 2>&1; then
    tail -5 "$log" >&2
    not_run "apt-get update failed (see above)"
  fi
  if ! timeout 240 "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" \
    install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    tail -5 "$log" >&2
    not_run "apt-get install ${missing[*]} failed (see above)"
  fi
  rm -f "$log"
  echo "webgpu: packages installed ($(( $(date +%s) - start ))s)"
else
  echo "webgpu: ${packages[*]} already installed"
fi

export EGL_PLATFORM="${EGL_PLATFORM:-surfaceless}"
export DENSEHYBRID_BACKEND=webgpu

probe=$(timeout 60 node --input-type=module -e "
  import { loadWebGpu } from '@densehybrid/tfjs-wasm-training';
  try {
    const r = await loadWebGpu({ allowSoftwareAdapter: true });
    console.log('ADAPTER ' + r.adapter.name + ' [Dawn ' + r.adapter.dawnBackend + ', ' + r.adapter.featureLevel + (r.adapter.software ? ', software' : '') + ']');
  } catch (e) { console.log('NOADAPTER ' + e.message); }
" 2>/dev/null)
if ! grep -q '^ADAPTER ' <<<"$probe"; then
  not_run "no WebGPU adapter: ${probe:-the probe did not answer (is @densehybrid/tfjs-wasm-training built?)}"
fi
echo "webgpu: $(grep '^ADAPTER ' <<<"$probe") ($(( $(date +%s) - start ))s)"

(cd packages/tfjs-wasm-training && npx vitest run --config vitest.webgpu.config.ts)
status=$?
(cd packages/core && npx vitest run --config vitest.webgpu.config.ts)
core_status=$?
if [ "$status" -eq 0 ]; then status=$core_status; fi
echo "webgpu: suite finished with status $status ($(( $(date +%s) - start ))s)"
exit $status
