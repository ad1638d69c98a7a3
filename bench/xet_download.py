"""Large-file download through Xet: hf_hub_download with hf_xet against the same client without Xet and
against curl from nginx sendfile.

    /work/venv/bin/python bench/xet_download.py [--size-mib 1024] [--runs 3]

A model-like safetensors file (random bf16/float32 weights) of --size-mib is uploaded through Xet
(upload_file with hf_xet). Then, alternated, each with a fresh cache (cache_dir and HF_HOME, so hf_xet
has no chunk cache either) and after `sync`:

1. xet    hf_hub_download with hf_xet: reconstruction from /_xet, xorb byte ranges from the signed URLs
          it returns (served with sendfile by Haven's blob server), the file rebuilt and written by the
          client.
   xet-main  the same, from a second Haven on the same data dir with the blob server off
          (HAVEN_BLOB_PORT=0): the xorb ranges come from the main server (granian, 1 MiB reads).
2. plain  the same hf_hub_download with HF_HUB_DISABLE_XET=1: GET /resolve, which Haven answers with
          the bytes rebuilt from chunks on the server. Target: xet >= 3x plain.
3. curl   curl from nginx (sendfile on) serving the original file: into a file on the same disk, then
          that file fsynced (timed apart), and to /dev/null. Target: xet >= 0.5x curl into a file.

huggingface_hub 2.4 fsyncs after linking a Xet download into its shared blob store (the plain path does
not), which flushes the whole new file to disk: on these machines about 1.3 s per GB, often a quarter of
the Xet download. The client reports that time apart (bench/xet_client.py wraps os.fsync), and the curl
file is fsynced apart, so the Xet figure is compared both as the user waits against curl + fsync, and
without the fsync against curl into the page cache.

Reported: GB/s, Haven's CPU seconds per GB (utime + stime of its whole process tree: granian, its
worker, the blob server), the client's CPU seconds per GB, and the ratios. Each client call runs in its
own process (bench/xet_client.py) and is timed inside it, from the call to the file in the cache.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import xet_client
from common import (
    GIB,
    Server,
    check_disk,
    fmt_runs,
    haven,
    median,
    model_spec,
    nginx,
    settle,
    sha256_file,
    tree_cpu,
    verdict,
    warm,
    write_safetensors,
)

PLAIN_TARGET = 3.0
CURL_TARGET = 0.5


def curl(url: str, size: int, out: str) -> float:
    """Seconds curl took to fetch `url` into `out`."""
    args = ["curl", "-sS", "-o", out, "-w", "%{size_download} %{time_total}", url]
    got, secs = subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()
    if int(got) != size:
        raise RuntimeError(f"{url}: got {got} bytes, expected {size}")
    return float(secs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    check_disk(Path(tempfile.gettempdir()), int(3.3 * (args.size_mib << 20)) + GIB // 4)

    with haven() as hv:
        src = hv.root / "model.safetensors"
        sha = write_safetensors(src, model_spec(args.size_mib << 20), {})
        size = src.stat().st_size
        gb = size / 1e9
        repo = f"{hv.user}/big"
        hv.api().create_repo(repo)
        up = {"op": "upload", "endpoint": hv.url, "token": hv.token, "repo": repo, "src": str(src)}
        r = xet_client.run({**up, "dst": "model.safetensors"}, xet=True, home=hv.root / "home-upload")
        stats = hv.server.cli("storage", "stats", "--json")
        print(f"(setup) {size / 1e6:.0f} MB safetensors uploaded through Xet in {r['seconds']:.2f}s; {stats}")
        warm(src)

        main_only = Server(hv.server.data_dir, extra_env={"HAVEN_BLOB_PORT": "0"})
        main_only.start()

        def download(xet: bool, check: bool = False, endpoint: str = hv.url) -> dict[str, float]:
            work = Path(tempfile.mkdtemp(prefix="bench-hfcache-", dir=hv.root))
            spec = {"op": "download", "endpoint": endpoint, "token": hv.token, "repo": repo}
            spec |= {"path": "model.safetensors", "cache": str(work / "cache")}
            try:
                out = xet_client.run(spec, xet=xet, home=work / "home")
                assert out["xet"] == xet, out
                if check and sha256_file(out["path"]) != sha:
                    raise RuntimeError(f"{'xet' if xet else 'plain'} download is not the uploaded file")
                return out
            finally:
                shutil.rmtree(work)

        server = "sendfile on; tcp_nopush on; location = /model.bin { alias " + str(src) + "; }"
        with nginx(server) as ng, contextlib.ExitStack() as stack:
            stack.callback(main_only.stop)
            nginx_url = f"{ng.url}/model.bin"
            sink = hv.root / "curl.bin"
            download(True, check=True)  # warm-up (and correctness) for each path
            download(True, check=True, endpoint=main_only.url)
            download(False, check=True)
            curl(nginx_url, size, "/dev/null")

            kinds = ("xet", "xet-main", "plain", "curl", "curl-null")
            secs: dict[str, list[float]] = {k: [] for k in kinds}
            fsync: dict[str, list[float]] = {k: [] for k in kinds}  # of which: fsync (the client's, or curl's file)
            server_cpu: dict[str, list[float]] = {k: [] for k in kinds}
            client_cpu: dict[str, list[float]] = {"xet": [], "xet-main": [], "plain": []}
            for _ in range(args.runs):
                for name in kinds:
                    settle()
                    pid = ng.pid if name.startswith("curl") else hv.pid
                    if name == "xet-main":
                        assert main_only.proc is not None
                        pid = main_only.proc.pid
                    c0 = tree_cpu(pid)
                    if name in client_cpu:
                        out = download(name != "plain", endpoint=main_only.url if name == "xet-main" else hv.url)
                        secs[name].append(out["seconds"])
                        fsync[name].append(out["fsync"])
                        client_cpu[name].append(out["cpu"] / gb)
                    elif name == "curl":  # into a file, then that file fsynced (timed apart)
                        t = curl(nginx_url, size, str(sink))
                        t0 = time.perf_counter()
                        with open(sink, "rb") as f:
                            os.fsync(f.fileno())
                        secs[name].append(t + time.perf_counter() - t0)
                        fsync[name].append(time.perf_counter() - t0)
                        sink.unlink()
                    else:
                        secs[name].append(curl(nginx_url, size, "/dev/null"))
                        fsync[name].append(0.0)
                    server_cpu[name].append((tree_cpu(pid) - c0) / gb)

        def rates(name: str, with_fsync: bool = True) -> list[float]:
            return [gb / (t if with_fsync else t - f) for t, f in zip(secs[name], fsync[name], strict=True)]

        def ratio(a: list[float], b: list[float]) -> str:
            pairs = ", ".join(f"{x / y:.2f}" for x, y in zip(a, b, strict=True))
            return f"{median(a) / median(b):.2f}x (per round {pairs})"

        print(f"\n== download of a {size / 1e6:.0f} MB Xet-stored file, fresh cache, {args.runs} alternated runs ==")
        labels = {
            "xet": "hf_hub_download, Xet               ",
            "xet-main": "  same, xorbs from the main server  ",
            "plain": "hf_hub_download, HF_HUB_DISABLE_XET",
            "curl": "curl from nginx into a file, fsync ",
            "curl-null": "curl from nginx to /dev/null       ",
        }
        for name, label in labels.items():
            line = f"{label} GB/s {fmt_runs(rates(name))}   server CPU s/GB {fmt_runs(server_cpu[name])}"
            if name in client_cpu:
                line += f"   client CPU s/GB {fmt_runs(client_cpu[name])}"
            if any(fsync[name]):
                line += f"\n{'':37s}without fsync: GB/s {fmt_runs(rates(name, False))}; fsync s {fmt_runs(fsync[name])}"
            print(line)
        print(
            "(huggingface_hub fsyncs when it links a Xet download into its shared blob store, which flushes the\n"
            " whole file to disk; its plain path does not. curl's file is fsynced apart, for the like-for-like pair.)"
        )
        xet, xet_nosync = rates("xet"), rates("xet", False)
        print(f"ratio xet/plain, as the user waits            {ratio(xet, rates('plain'))}")
        print(f"ratio xet/plain, xet without its fsync        {ratio(xet_nosync, rates('plain'))}")
        print(f"ratio xet/curl, both into a file and fsynced  {ratio(xet, rates('curl'))}")
        print(f"ratio xet/curl, both into a file, no fsync    {ratio(xet_nosync, rates('curl', False))}")
        print(f"ratio xet/curl to /dev/null                   {ratio(xet, rates('curl-null'))}")
        print(f"ratio xorbs from the blob server / main server {ratio(xet, rates('xet-main'))}")
        vs_plain = median(xet) / median(rates("plain"))
        vs_curl = median(xet) / median(rates("curl"))
        vs_curl_nosync = median(xet_nosync) / median(rates("curl", False))
        print(f"target xet >= {PLAIN_TARGET}x plain: {verdict(vs_plain >= PLAIN_TARGET)}")
        print(f"target xet >= {CURL_TARGET}x curl (both fsynced): {verdict(vs_curl >= CURL_TARGET)}")
        print(f"target xet >= {CURL_TARGET}x curl (neither fsynced): {verdict(vs_curl_nosync >= CURL_TARGET)}")


if __name__ == "__main__":
    main()
