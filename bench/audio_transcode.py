"""CPU of recording a camera's sound, per camera: G.711 as AAC (issue 18 item 4, design/0049),
the path sound no sample entry holds still takes, and G.711 as sent (issue 38, design/0094).

    .venv/bin/python -m bench.audio_transcode [--seconds 600] [--rounds 3]

A camera's audio as it arrives: 8 kHz mono PCMA (G.711 A-law), a speech-like signal (a tone
swept 300-3000 Hz plus background noise, so the encoder has work to do), made once by ffmpeg
into bench/out/clips/ and held in memory as packets of 20 ms (160 samples, as an RTP payload
carries). Each pipeline runs over the whole clip `--rounds` times in this process; CPU is the
process's user+system time over the clip's length, in % of one core per camera, the median.

- edged's path: recorder.audio.Transcoder (decode, resample to float 1024-sample frames,
  level meter) then the AAC encoder of recorder.audio.AacSpec as the segment writer runs it,
  the packets muxed into fragmented MP4 in memory.
- references in the same run: the demux alone, the G.711 decode alone, and the same
  transcode by the `ffmpeg` command line (`-c:a aac -b:a 32k`, fragmented MP4 to /dev/null),
  whose CPU is read from the child's rusage; its start-up is measured on a 1 s input and
  taken off. Also the cost edged now adds to a camera that sends AAC (16 kHz mono, 32 kbit/s):
  decoding it for the level meter; the AAC is still remuxed, never re-encoded. And what a G.711
  camera costs now that its sound is stored as sent (design/0094): the same meter's decode.
"""

from __future__ import annotations

import argparse
import io
import resource
import statistics
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av

from bench.common import OUT, command_line, environment, fmt, log, table
from recorder import audio

FRAG = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "frag_duration": "1000000"}


def make_source(out: Path, seconds: int, codec: str, rate: int) -> Path:
    path = out / f"speechlike_{codec}_{rate}hz_{seconds}s.mka"
    if not path.exists():
        out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.mka")
        graph = (f"aevalsrc='0.2*sin(2*PI*(300+2700*(0.5+0.5*sin(2*PI*t/7)))*t)':s={rate}:d={seconds}[tone];"
                 f"anoisesrc=c=pink:r={rate}:a=0.02:d={seconds}[noise];[tone][noise]amix=inputs=2[out]")
        cmd = ["ffmpeg", "-nostdin", "-y", "-v", "error", "-filter_complex", graph, "-map", "[out]", "-ac", "1",
               "-c:a", codec, *(["-b:a", "32k"] if codec == "aac" else []), str(tmp)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        tmp.rename(path)
    return path


def packets(path: Path, samples: int | None) -> tuple[av.container.InputContainer, list[av.Packet]]:
    """The clip's packets in memory; G.711 (a byte a sample) re-cut into RTP-sized packets of
    `samples`, timed on the sample clock as an RTSP camera's are."""
    c = av.open(str(path))
    s = c.streams.audio[0]
    raw = [p for p in c.demux(s) if p.size]
    if samples is None:
        return c, raw
    data = b"".join(bytes(p) for p in raw)
    out = []
    for i in range(0, len(data), samples):
        p = av.Packet(data[i:i + samples])
        p.pts = p.dts = i
        p.time_base = Fraction(1, s.codec_context.sample_rate)
        out.append(p)
    return c, out


def edged_path(path: Path, stage: str) -> float:
    """One camera's G.711 through recorder/audio.py (and the segment's encoder); CPU seconds."""
    c, pkts = packets(path, 160)
    stream = c.streams.audio[0]
    t0 = time.process_time()
    if stage == "demux":
        c2 = av.open(str(path))
        sum(1 for p in c2.demux(c2.streams.audio[0]) if p.size)
        c2.close()
        return time.process_time() - t0
    if stage == "decode":
        ctx = stream.codec_context
        for p in pkts:
            ctx.decode(p)
        return time.process_time() - t0
    path_ = audio.Transcoder("bench", stream)  # G.711 is stored as sent now; other sound takes this path
    out = av.open(io.BytesIO(), "w", format="mp4", options=FRAG)
    dst = path_.template.add_to(out)
    for p in pkts:
        for frame in path_.feed(p):
            if stage == "encode":
                out.mux(dst.encode(frame))
    if stage == "encode":
        out.mux(dst.encode(None))
    out.close()
    path_.report()
    return time.process_time() - t0


def meter_only(path: Path, samples: int | None = None) -> float:
    """Sound stored as sent (AAC, G.711): every packet decoded for the level meter, and passed on untouched."""
    c, pkts = packets(path, samples)
    path_ = audio.select(c.streams.audio, "bench")
    assert type(path_) is audio.AudioPath
    t0 = time.process_time()
    for p in pkts:
        path_.feed(p)
    path_.report()
    return time.process_time() - t0


def ffmpeg_cpu(path: Path) -> float:
    """CPU seconds of the ffmpeg command line doing the same transcode (children's rusage)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-c:a", "aac", "-b:a", "32k",
                    "-movflags", FRAG["movflags"], "-frag_duration", FRAG["frag_duration"], "-f", "mp4", "-y",
                    "/dev/null"], check=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=600, help="length of the audio clip")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each pipeline (median)")
    args = ap.parse_args(argv)
    clips = OUT / "clips"
    log("making (or reusing) the audio clips in bench/out/clips ...")
    pcma = make_source(clips, args.seconds, "pcm_alaw", 8000)
    short = make_source(clips, 1, "pcm_alaw", 8000)
    aac = make_source(clips, args.seconds, "aac", 16000)

    def median(run) -> float:
        return statistics.median(run() for _ in range(args.rounds))

    startup = median(lambda: ffmpeg_cpu(short))
    cases = [
        ("demux", "G.711 demux alone (reference)", lambda: edged_path(pcma, "demux")),
        ("decode", "G.711 decode alone (reference)", lambda: edged_path(pcma, "decode")),
        ("resample", "edged: decode + resample + meter (recorder/audio.py)", lambda: edged_path(pcma, "resample")),
        ("edged", "edged: + AAC encode and mux (the segment writer's share)", lambda: edged_path(pcma, "encode")),
        ("ffmpeg", "ffmpeg CLI: the same transcode, start-up taken off (reference)",
         lambda: max(0.0, ffmpeg_cpu(pcma) - startup)),
        ("aac", "AAC camera: decode for the meter (16 kHz mono), remuxed as ever", lambda: meter_only(aac)),
        ("g711", "G.711 camera as sent (design/0094): decode for the meter, remuxed", lambda: meter_only(pcma, 160)),
    ]
    figures, rows = {}, []
    for key, label, run in cases:
        cpu = median(run)
        figures[key] = pct = 100 * cpu / args.seconds
        rows.append([label, fmt(cpu, ".3f"), fmt(pct, ".3f")])
        log("  %s: %.3f %% of a core" % (label, pct))
    print()
    print("## G.711 (PCMA 8 kHz mono) to AAC: CPU per camera (%% of one core, median of %d rounds over %d s "
          "of audio)" % (args.rounds, args.seconds))
    print()
    print(table(["pipeline", "CPU s", "% of a core"], rows))
    print()
    print("- edged's G.711 -> AAC per camera: %.3f %% of a core (%.2fx the ffmpeg command line's %.3f %%)"
          % (figures["edged"], figures["edged"] / figures["ffmpeg"] if figures["ffmpeg"] else float("nan"),
             figures["ffmpeg"]))
    print("- of which the AAC encoder: %.3f %%; decode + resample + meter: %.3f %%"
          % (figures["edged"] - figures["resample"], figures["resample"]))
    print("- the level meter on an AAC camera: %.3f %% of a core" % figures["aac"])
    print("- a G.711 camera stored as sent (its meter): %.3f %% of a core" % figures["g711"])
    print("- ffmpeg start-up taken off its figure: %.3f CPU s" % startup)
    print()
    print("command: %s" % command_line("bench.audio_transcode"))
    print("environment: %s" % environment())
    return 0


if __name__ == "__main__":
    sys.exit(main())
