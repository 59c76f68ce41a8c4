#!/usr/bin/env python3
"""Disk-full drill: a real `tideline serve` whose data directory is a small tmpfs.

1. storage.min_free_mib: a ballast file takes the free space below the minimum; appends are
   refused with 503 ServiceUnavailable and a clear message, every acknowledged record stays
   readable, and once the ballast is removed appends are accepted again by the same process.
2. With the check off (min_free_mib: 0) RocksDB itself runs out of space: the server does not
   crash, appends fail from then on (sticky) and /health says why, acknowledged records stay
   readable, and after space is freed a restart recovers exactly the acknowledged records.

Needs root (mount -t tmpfs); fails loudly, never skips, when mounting is not permitted.

Run: python3 test_disk_full.py --tideline build/cli/tideline
"""

import errno
import os
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import botocore.exceptions

import harness

MiB = 1 << 20
TMPFS_MIB = 64
MIN_FREE_MIB = 16
STREAM = "disk"
# The server re-reads the free space when its reading is older than this (DiskSpaceGuard).
SERVER_REFRESH_S = 0.1


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def mount_tmpfs(path, size_mib):
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", path],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(
            f"FATAL: cannot mount a {size_mib} MiB tmpfs on {path} (this test needs root to "
            f"mount one; it is never skipped): {p.stderr.strip()}")


def umount(path):
    if os.path.ismount(path):
        subprocess.run(["umount", "-l", path], check=False)


def write_ballast(path, leave_free_bytes=None):
    """Writes zeros into `path` until the file system has at most `leave_free_bytes` free, or
    until it is full (ENOSPC) when that is None. Real writes: tmpfs pages are only used once
    written (a sparse file would take nothing)."""
    chunk = b"\0" * MiB
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)  # unbuffered
    try:
        while True:
            room = free_bytes(os.path.dirname(path))
            if leave_free_bytes is not None:
                want = room - leave_free_bytes
                if want <= 0:
                    break
                piece = chunk[:min(len(chunk), want)]
            else:
                piece = chunk if room >= len(chunk) else chunk[:4096]
            try:
                os.write(fd, piece)
            except OSError as e:
                if e.errno != errno.ENOSPC or leave_free_bytes is not None:
                    raise
                break
    finally:
        os.close(fd)


class DiskFullBase(unittest.TestCase):
    min_free_mib = MIN_FREE_MIB

    def setUp(self):
        # The config goes into the server's work directory, which exists once it is created.
        self.server = harness.TidelineServer(name=type(self).__name__)
        config = os.path.join(self.server.workdir, "tideline.yaml")
        with open(config, "w") as f:
            f.write(f"storage:\n  min_free_mib: {self.min_free_mib}\n")
        self.server.extra_args = ["--config", config]
        mount_tmpfs(self.server.data_dir, TMPFS_MIB)
        self.addCleanup(self._cleanup)
        self.ballast = os.path.join(self.server.data_dir, "ballast")
        self.server.start()
        self.client = self.server.boto3_client()
        self.client.create_stream(StreamName=STREAM, ShardCount=2)
        harness.wait_stream_active(self.client, STREAM)
        self.acked = {}  # data -> (shard id, sequence number)
        self.next_id = 0

    def _cleanup(self):
        self.server.kill()
        umount(self.server.data_dir)
        self.server.cleanup()

    def put_records(self, n, size=100):
        """PutRecords of n fresh records; acknowledged ones go into self.acked. Returns the
        response."""
        entries = []
        for _ in range(n):
            data = f"r{self.next_id:08d}-".encode().ljust(size, b"x")
            entries.append({"Data": data, "PartitionKey": f"pk{self.next_id % 13}"})
            self.next_id += 1
        r = self.client.put_records(StreamName=STREAM, Records=entries)
        for e, res in zip(entries, r["Records"]):
            if "SequenceNumber" in res:
                self.acked[e["Data"]] = (res["ShardId"], res["SequenceNumber"])
        return r

    def assert_every_acked_record_readable(self, client=None):
        client = client or self.client
        found = {}
        for shard in client.list_shards(StreamName=STREAM)["Shards"]:
            it = client.get_shard_iterator(StreamName=STREAM, ShardId=shard["ShardId"],
                                           ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            records, _ = harness.read_shard(client, it)
            for rec in records:
                found[rec["Data"]] = (shard["ShardId"], rec["SequenceNumber"])
        for data, where in self.acked.items():
            self.assertEqual(found.get(data), where, f"acknowledged record {data[:12]} lost")

    def health(self):
        try:
            with urllib.request.urlopen(self.server.endpoint + "/health", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


class MinFreeRefusesAppendsBeforeTheDiskIsFull(DiskFullBase):

    def test_appends_refused_below_min_free_and_accepted_again_without_restart(self):
        r = self.put_records(50)
        self.assertEqual(r["FailedRecordCount"], 0)

        write_ballast(self.ballast, leave_free_bytes=(MIN_FREE_MIB - 8) * MiB)
        self.assertLess(free_bytes(self.server.data_dir), MIN_FREE_MIB * MiB)
        harness.wait_clock_past(time.time() + harness.scaled(SERVER_REFRESH_S * 1.5))

        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.client.put_record(StreamName=STREAM, Data=b"refused", PartitionKey="a")
        err = ctx.exception.response
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 503)
        self.assertEqual(err["Error"]["Code"], "ServiceUnavailable")
        msg = err["Error"]["Message"]
        self.assertIn("Insufficient disk space", msg)
        self.assertIn(f"below storage.min_free_mib ({MIN_FREE_MIB})", msg)
        self.assertIn(self.server.data_dir, msg)

        # PutRecords: the whole request is refused with the same 503 (SDKs retry it), nothing
        # acknowledged.
        acked_before = len(self.acked)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.put_records(20)
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 503)
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ServiceUnavailable")
        self.assertIn("Insufficient disk space", ctx.exception.response["Error"]["Message"])
        self.assertEqual(len(self.acked), acked_before)

        # Low space is not a store failure: health stays OK, reads go on.
        self.assertEqual(self.health()[0], 200)
        self.assert_every_acked_record_readable()

        os.remove(self.ballast)
        harness.wait_clock_past(time.time() + harness.scaled(SERVER_REFRESH_S * 1.5))
        r = self.put_records(50)
        self.assertEqual(r["FailedRecordCount"], 0, r["Records"][:3])
        self.assertEqual(self.server.starts, 1, "must recover without a restart")
        self.assertTrue(self.server.alive())
        self.assertEqual(len(self.acked), 100)
        self.assert_every_acked_record_readable()
        self.assertEqual(self.server.stop(), 0, self.server.log_tail())


class RocksDbOutOfSpaceIsStickyNotACrash(DiskFullBase):
    min_free_mib = 0  # the check is off: RocksDB itself meets ENOSPC

    def test_enospc_in_rocksdb_fails_appends_sticky_and_restart_recovers(self):
        r = self.put_records(50)
        self.assertEqual(r["FailedRecordCount"], 0)
        write_ballast(self.ballast)  # the file system is now full
        self.assertLess(free_bytes(self.server.data_dir), 64 * 1024)

        # Keep writing 4 MB batches: RocksDB's preallocated WAL space absorbs some, then a WAL
        # or memtable-flush write fails with ENOSPC.
        failed = False
        for _ in range(60):
            r = self.put_records(500, size=8 * 1024)
            if r["FailedRecordCount"] > 0:
                self.assertEqual(r["FailedRecordCount"], 500, "a batch commits all or nothing")
                failed = True
                break
        self.assertTrue(failed, "the full disk never failed a write")
        self.assertTrue(self.server.alive(), "server crashed\n" + self.server.log_tail())

        code, body = self.health()
        self.assertEqual(code, 503)
        self.assertIn("No space left on device", body)
        # Sticky: the store does not trust the disk again until restarted.
        for _ in range(3):
            self.assertEqual(self.put_records(5)["FailedRecordCount"], 5)
        self.assert_every_acked_record_readable()

        self.server.kill()
        os.remove(self.ballast)
        # Opening replays the WAL (~32 MiB here) into a new blob file while the old WAL is still
        # there, which a 64 MiB file system cannot hold: the operator also grows it.
        p = subprocess.run(["mount", "-o", "remount,size=256m", self.server.data_dir],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.server.start()
        client = self.server.boto3_client()
        self.client = client
        self.assert_every_acked_record_readable(client)
        r = self.put_records(10)
        self.assertEqual(r["FailedRecordCount"], 0, r["Records"][:3])
        self.assert_every_acked_record_readable(client)
        self.assertEqual(self.health()[0], 200)


if __name__ == "__main__":
    harness.main()
