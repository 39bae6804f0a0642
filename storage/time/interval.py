"""Time as an interval: every instant that decides a destruction or a verdict is held as
[earliest, latest] on a clock the box does not control, each bound naming its evidence
(docs/requirements.md R1, R2; design/0305). Pure: no clock, no I/O.

The rules the box's retention gate and the office's verdicts both stand on:
- a message's receipt proves only that it was sent at or before it (`sent_by`): never a lower bound;
- a clock's reading bounds its offset only when it answers an exchange someone else started
  (`exchange`): the round trip is the error bar;
- a bound carried forward by a monotonic clock widens with the time since, by the clock's drift
  (`after`), and a bound nobody proved is None: it is never guessed.
A verdict is given only on proven bounds (`judge`); otherwise it names the bound that is missing.

Over 400 lines on purpose: `ClockLine` builds, extends and reads its pairs and buckets (design/0405,
0523) on the interval arithmetic above; apart, each would reach into the other's private state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

DRIFT_PPM = 500  # what a monotonic clock may gain or lose against true time (NTP's dispersion bound is 15 ppm)


@dataclass(frozen=True, slots=True)
class Bound:
    """One proven side of an interval: an instant or a span (us) and what proves it."""
    us: int
    evidence: str


@dataclass(frozen=True, slots=True)
class Interval:
    """[earliest, latest]; a side that nothing proves is None."""
    earliest: Bound | None = None
    latest: Bound | None = None

    @property
    def proven(self) -> bool:
        return self.earliest is not None and self.latest is not None

    @property
    def empty(self) -> bool:
        """Its bounds contradict each other: one piece of evidence is false."""
        return self.earliest is not None and self.latest is not None and self.earliest.us > self.latest.us

    def contains(self, us: int) -> bool:
        return ((self.earliest is None or self.earliest.us <= us)
                and (self.latest is None or us <= self.latest.us))


UNKNOWN = Interval()


def exactly(us: int, evidence: str) -> Interval:
    """An instant read on the reference clock itself (the office's own clock at the office)."""
    return Interval(Bound(us, evidence), Bound(us, evidence))


def sent_by(received_us: int, evidence: str) -> Interval:
    """A message received at `received_us` (reference clock) was sent at or before it; nothing more."""
    return Interval(None, Bound(received_us, evidence))


def exchange(sent_us: int, answer_us: int, received_us: int, evidence: str) -> Interval:
    """The offset (its clock less the reference's) of a clock that answered `answer_us` to an exchange
    the reference started at `sent_us` and heard back at `received_us`, both on the reference clock:
    the answer was read in between, so the offset lies in [answer - received, answer - sent]."""
    if received_us < sent_us:
        raise ValueError("an answer heard before its question was sent")  # i18n: a programming error
    rtt = received_us - sent_us
    why = f"{evidence} (round trip {rtt / 1e6:.3f} s)"
    return Interval(Bound(answer_us - received_us, why), Bound(answer_us - sent_us, why))


def _drift(elapsed_us: int, drift_ppm: int) -> int:
    """How far a true span may lie from `elapsed_us` read on a clock off by at most `drift_ppm`: a
    clock slow by d reads true * (1 - d), so true <= read / (1 - d), read * d / (1 - d) beyond it
    (more than read * d); one microsecond more for the reading's own rounding."""
    return abs(elapsed_us) * drift_ppm // (1_000_000 - drift_ppm) + 1


def after(at: Interval, elapsed_us: int, drift_ppm: int = DRIFT_PPM, evidence: str = "monotonic clock") -> Interval:
    """`at` carried forward by `elapsed_us` measured on a monotonic clock that drifts by at most
    `drift_ppm`: each side moves by the elapsed time and widens by the drift."""
    if elapsed_us < 0:
        raise ValueError("a monotonic clock does not run backwards")  # i18n: a programming error
    slack = _drift(elapsed_us, drift_ppm)
    tail = f" + {elapsed_us / 1e6:.0f} s on the {evidence}"
    lo = None if at.earliest is None else Bound(at.earliest.us + elapsed_us - slack, at.earliest.evidence + tail)
    hi = None if at.latest is None else Bound(at.latest.us + elapsed_us + slack, at.latest.evidence + tail)
    return Interval(lo, hi)


def widen(offset: Interval, elapsed_us: int, drift_ppm: int = DRIFT_PPM) -> Interval:
    """An offset measured `elapsed_us` ago, as it may stand now: wider by the drift on each side."""
    slack = _drift(elapsed_us, drift_ppm)
    lo = None if offset.earliest is None else Bound(offset.earliest.us - slack, offset.earliest.evidence)
    hi = None if offset.latest is None else Bound(offset.latest.us + slack, offset.latest.evidence)
    return Interval(lo, hi)


def on_reference(local_us: int, offset: Interval, evidence: str) -> Interval:
    """A reading of a clock whose offset to the reference lies in `offset`, as an instant on the
    reference clock: [local - offset.latest, local - offset.earliest]."""
    lo = None if offset.latest is None else Bound(local_us - offset.latest.us, f"{evidence}, {offset.latest.evidence}")
    hi = None if offset.earliest is None else Bound(local_us - offset.earliest.us, f"{evidence}, {offset.earliest.evidence}")
    return Interval(lo, hi)


def meet(*ivs: Interval) -> Interval:
    """What every interval proves at once: the latest earliest and the earliest latest (each keeps
    its own evidence). May be `empty`: the caller says which evidence is false."""
    lows = [iv.earliest for iv in ivs if iv.earliest is not None]
    highs = [iv.latest for iv in ivs if iv.latest is not None]
    return Interval(max(lows, key=lambda b: b.us) if lows else None,
                    min(highs, key=lambda b: b.us) if highs else None)


def span(first: Interval, then: Interval) -> Interval:
    """How long from an instant in `first` to one in `then` (an age): [then.earliest - first.latest,
    then.latest - first.earliest]."""
    lo = (None if then.earliest is None or first.latest is None
          else Bound(then.earliest.us - first.latest.us, f"{then.earliest.evidence}; {first.latest.evidence}"))
    hi = (None if then.latest is None or first.earliest is None
          else Bound(then.latest.us - first.earliest.us, f"{then.latest.evidence}; {first.earliest.evidence}"))
    return Interval(lo, hi)


# verdicts on an age --------------------------------------------------------------------------------
OK, EARLY, KEPT_PAST, UNVERIFIED = "ok", "early", "kept_past_maximum", "unverified"
LOWER, UPPER = "earliest", "latest"


@dataclass(frozen=True, slots=True)
class Judged:
    verdict: str            # OK, EARLY, KEPT_PAST or UNVERIFIED
    age: Interval
    missing: str = ""       # UNVERIFIED: the bound that is missing (LOWER or UPPER)


def judge(age: Interval, minimum_us: int, maximum_us: int | None) -> Judged:
    """A destruction (or the last proof footage was held) at `age` against a minimum and a
    maximum: EARLY only when even the latest age is below the minimum, KEPT_PAST only when even the
    earliest is above the maximum, OK when both are proven inside, else UNVERIFIED naming the bound
    that would have settled it."""
    if age.latest is not None and age.latest.us < minimum_us:
        return Judged(EARLY, age)
    if maximum_us is not None and age.earliest is not None and age.earliest.us > maximum_us:
        return Judged(KEPT_PAST, age)
    if age.earliest is None or age.earliest.us < minimum_us:
        return Judged(UNVERIFIED, age, LOWER)
    if maximum_us is not None and (age.latest is None or age.latest.us > maximum_us):
        return Judged(UNVERIFIED, age, UPPER)
    return Judged(OK, age)


def may_destroy(age: Interval, minimum_us: int) -> bool:
    """The box's gate: footage may go by age only when its age is proven at least the minimum."""
    return age.earliest is not None and age.earliest.us >= minimum_us


# clock samples: the offset of a box's clock at one of its own readings ---------------------------------
HOUR_US = 3_600_000_000
WIDE_US = 60 * 24 * HOUR_US  # a pair spanning more of the box's clock than this is looked at for every reading
ELAPSED = "node-elapsed"  # the evidence of `ClockLine.elapsed`: the box's clock between two readings of one stretch


@dataclass(frozen=True, slots=True)
class Sample:
    """A box's signed answer to a time request the office started (its nonce): the office sent it at
    `sent_us` and heard the answer at `received_us` (the office's clock); the box read `node_us` on its
    wall clock and `mono_us` on its monotonic clock in boot `boot` when it answered."""
    sent_us: int
    node_us: int
    received_us: int
    boot: str = ""
    mono_us: int | None = None
    _offset: Interval | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def offset(self) -> Interval:
        got = self._offset
        if got is None:  # made once, when a line first reads it (a pair kept needs none: design/0405)
            got = exchange(self.sent_us, self.node_us, self.received_us, f"time request of {self.sent_us}")
            object.__setattr__(self, "_offset", got)
        return got


def steady(a: Sample, b: Sample, drift_ppm: int = DRIFT_PPM) -> bool:
    """Whether the box's clock ran on from `a` to `b` (b heard after a) without a step: the same boot,
    the offsets agreeing within the drift over the time between, and (with a monotonic reading on both)
    as much time on the wall clock as on the monotonic one (a step within the offsets' bar shows there).
    A clock stepped and stepped back by as much between two samples leaves no trace in any evidence."""
    if b.sent_us < a.received_us or (a.boot and b.boot and a.boot != b.boot):
        return False
    return _pair(a, b, drift_ppm)[1]


def _pair(a: Sample, b: Sample, drift_ppm: int) -> tuple[tuple[tuple[int, int], tuple[int, int]], bool]:
    """What two consecutive samples show, on their microseconds alone (a line's every pair; design/0523):
    what the box's clock may have read between them, if it stepped once by X between them (from a's
    reading on to the step, b's reading less X at most, and from a's reading plus X on to b's: a step
    back repeats readings below a's, a step ahead runs past b's first; X is the offsets' difference at
    its most negative within their bars and the drift), and `steady`. The same sums as `exchange`'s
    bounds and `meet(widen(a.offset, ...), b.offset)`, without their intervals and words."""
    if a.received_us < a.sent_us or b.received_us < b.sent_us:
        raise ValueError("an answer heard before its question was sent")  # i18n: a programming error
    slack = _drift(b.received_us - a.sent_us, drift_ppm)
    a_lo, a_hi = a.node_us - a.received_us, a.node_us - a.sent_us  # a's offset (`exchange`)
    b_lo, b_hi = b.node_us - b.received_us, b.node_us - b.sent_us
    step = b_lo - a_hi - slack  # the offsets' difference at its most negative within their bars and the drift
    x, y = b.node_us - step, a.node_us + step  # (max and min as comparisons: a line's every pair comes here)
    spans = (a.node_us, x if x > a.node_us else a.node_us), (y if y < b.node_us else b.node_us, b.node_us)
    if b.sent_us < a.received_us or (a.boot and b.boot and a.boot != b.boot):
        return spans, False
    if a_lo - slack > b_hi or b_lo > a_hi + slack:  # a's offset carried to b's misses b's (meet is empty): a step
        return spans, False
    if a.mono_us is None or b.mono_us is None or a.boot != b.boot:
        return spans, True
    wall, mono = b.node_us - a.node_us, b.mono_us - a.mono_us
    return spans, mono >= 0 and abs(wall - mono) <= _drift(mono, drift_ppm) + (b.received_us - b.sent_us) + (
        a.received_us - a.sent_us)


def hull(*ivs: Interval) -> Interval:
    """What any of the proven intervals allows: the earliest earliest and the latest latest (each
    keeps its evidence); a side any of them leaves open is open."""
    if not ivs or any(iv.earliest is None for iv in ivs):
        lo = None
    else:
        lo = min((iv.earliest for iv in ivs if iv.earliest is not None), key=lambda b: b.us)
    if not ivs or any(iv.latest is None for iv in ivs):
        hi = None
    else:
        hi = max((iv.latest for iv in ivs if iv.latest is not None), key=lambda b: b.us)
    return Interval(lo, hi)


class ClockLine:
    """A box's clock samples in the order the office heard them, and the offset of its clock at any
    reading of it: between two samples in a steady stretch (`steady`) the offset is what either
    proves, widened by the drift over the whole stretch (a step within the bar may fall anywhere in
    it: one step a stretch, or one that comes back, leaves no other trace); a reading that may fall between two samples across a step, or
    before the first or after the last, has no proven offset (UNKNOWN). Where the clock read the same
    twice (stepped back), every stretch that read it must agree, and the offset is their hull."""

    def __init__(self, samples: list[Sample], drift_ppm: int = DRIFT_PPM, memo: dict[Any, Any] | None = None):
        """``memo``: what two consecutive samples showed (`_pair`), by the pair's samples, kept by
        the caller from the node's previous line (central/verifier/clock_lines.py): a pair in it is not
        worked out again, and the memo is left holding this line's pairs only (design/0405)."""
        self.samples = sorted(samples, key=lambda s: (s.sent_us, s.received_us))
        self.drift = drift_ppm
        self._pairs: list[tuple[tuple[tuple[int, int], ...], bool, Sample, Sample]] = []
        self._hours: dict[int, list[int]] = {}
        self._wide: list[int] = []   # pairs over more than WIDE_US of the box's clock: looked at always
        self._offsets: dict[tuple[int, ...], Interval] = {}  # the offset a set of stretches holding a reading proves
        self._held: dict[tuple[int, int | None], tuple[int, ...]] = {}  # `_held_by`'s answers
        n = len(self.samples)
        # readings bucketed by about the samples' spacing (a minute to an hour): a reading looks at the
        # few pairs in its bucket, not an hour's sixty when the office asks every minute
        self._grain = (min(HOUR_US, max(60_000_000, (self.samples[-1].sent_us - self.samples[0].sent_us)
                                        // (n - 1))) if n > 1 else HOUR_US)
        old = memo if memo is not None else {}
        self.fresh = 0  # pairs worked out here (not found in the memo)
        kept: dict[Any, Any] | None = {} if memo is not None else None
        # a pair's key in the memo: its two samples' fields, as a sample's equality reads them (tuples
        # hashed and compared in C, not the dataclass's methods: design/0523)
        keys = ([(s.sent_us, s.node_us, s.received_us, s.boot, s.mono_us) for s in self.samples]
                if kept is not None else [])
        seen: list[Any] = []
        for i, (a, b) in enumerate(zip(self.samples, self.samples[1:])):
            key = (keys[i], keys[i + 1]) if kept is not None else None
            got = old.get(key) if old else None
            if got is None:
                got = _pair(a, b, drift_ppm)
                self.fresh += 1
            if kept is not None:
                kept[key] = got
            seen.append(got)
        self._lay(0, seen)
        if memo is not None and kept is not None:
            memo.clear()
            memo.update(kept)

    def _lay(self, start: int, seen: list[Any]) -> None:
        """Pairs ``start`` on (what each showed: ``seen``, `_pair`'s) in the line's pairs and buckets."""
        hours, pairs, grain, last = self._hours, self._pairs, self._grain, len(self.samples) - 2
        samples = self.samples
        for i, (spans, ok) in enumerate(seen, start):
            (lo1, hi1), (lo2, hi2) = spans
            if i == last or i == 0:
                # before the first sample and after the last the clock may have read anything: the first
                # stretch holds no reading below its first sample's, the last none above its last sample's
                if i == last and hi2 < hi1:
                    hi1 = hi2
                if i == 0 and lo1 > lo2:
                    lo2 = lo1
                spans = ((lo1, hi1), (lo2, hi2))
            pairs.append((spans, ok, samples[i], samples[i + 1]))
            if (lo1 > hi2 or lo2 > hi1 or lo1 > hi1 or lo2 > hi2  # apart (or one empty)
                    or hi1 - lo1 > WIDE_US or hi2 - lo2 > WIDE_US):  # or a span looked at always: each as it is
                self._bucket(i, lo1, hi1)
                self._bucket(i, lo2, hi2)
                continue
            # the spans overlap, both narrow (the usual pair): their buckets, the pair once in each
            for h in range((lo1 if lo1 < lo2 else lo2) // grain, (hi1 if hi1 > hi2 else hi2) // grain + 1):
                got = hours.get(h)
                if got is None:
                    hours[h] = [i]
                else:
                    got.append(i)

    def extended(self, more: list[Sample]) -> ClockLine | None:
        """The line of this line's samples and ``more``, every one heard after its last (a node's next
        samples: issue 86, design/0523), made from this line's pairs: the line ``ClockLine(samples +
        more)`` makes, pair for pair and bucket for bucket. Only the new pairs are worked out (and the
        first and last again, which the ends clip); their buckets alone laid when the grain is as it
        was, else every pair's again. None when ``more`` is not all after the last, or this line has
        fewer than two samples: then build it."""
        more = sorted(more, key=lambda s: (s.sent_us, s.received_us))
        old = self.samples
        if len(old) < 2 or not more or (more[0].sent_us, more[0].received_us) <= (old[-1].sent_us, old[-1].received_us):
            return None
        samples = old + more
        line = ClockLine([], self.drift)
        line.samples = samples
        line._grain = min(HOUR_US, max(60_000_000, (samples[-1].sent_us - samples[0].sent_us) // (len(samples) - 1)))
        j = len(old) - 2  # this line's last pair, clipped as the last: laid again as the new line's
        new = [_pair(a, b, self.drift) for a, b in zip(samples[j:], samples[j + 1:])]
        if line._grain == self._grain:
            line._pairs = self._pairs[:j]
            hours = {h: [i for i in got if i != j] if got[-1] == j else got.copy() for h, got in self._hours.items()}
            line._hours = {h: got for h, got in hours.items() if got}
            line._wide = [i for i in self._wide if i != j]
            line._lay(j, new)
        else:  # the pairs between the ends as this line laid them (unclipped), every one in the new buckets
            head = [_pair(old[0], old[1], self.drift)] if j > 0 else []
            line._lay(0, head + [(p[0], p[1]) for p in self._pairs[1:j]] + new)
            new += head
        line.fresh = len(new)
        return line

    def idle(self) -> None:
        """Forget the readings' answers kept (`_held_by`'s, a cache): a line kept while nobody reads it
        holds its pairs and buckets, not a page's readings (central/verifier/clock_lines.py)."""
        self._held.clear()

    def _bucket(self, i: int, lo: int, hi: int) -> None:
        """Pair ``i``'s span [lo, hi]: in the wide pairs when wider than WIDE_US, else in its buckets."""
        if hi - lo > WIDE_US:
            self._wide.append(i)
            return
        for h in range(lo // self._grain, hi // self._grain + 1):
            self._hours.setdefault(h, []).append(i)

    def _candidates(self, node_us: int) -> Iterable[int]:
        """The pairs whose stretch may hold the reading: its bucket's and the wide ones."""
        return dict.fromkeys((*self._hours.get(node_us // self._grain, ()), *self._wide))

    def offset_at(self, node_us: int, before_us: int | None = None) -> Interval:
        """The box's clock less the office's when the box's clock read `node_us`; `before_us`: the
        office's time the reading is proven made by (a message that told of it): a stretch that began
        after it cannot hold the reading."""
        hits = self._held_by(node_us, before_us)
        got = self._offsets.get(hits)
        if got is None:  # the same stretches hold many readings (a page's destructions): their offset made once
            got = self._offsets[hits] = self._offset_of(hits)
        return got

    def _held_by(self, node_us: int, before_us: int | None) -> tuple[int, ...]:
        """The pairs whose stretch may hold the reading, made by `before_us` when that is known (kept:
        a pass's destructions share its reading, and a verdict asks each reading twice: design/0456)."""
        got = self._held.get((node_us, before_us))
        if got is None:
            if len(self._held) > 65_536:
                self._held.clear()
            got = self._held[(node_us, before_us)] = self._find(node_us, before_us)
        return got

    def _find(self, node_us: int, before_us: int | None) -> tuple[int, ...]:
        held = []
        for i in self._candidates(node_us):
            ((lo1, hi1), (lo2, hi2)), _ok, a, _b = self._pairs[i]
            if (lo1 <= node_us <= hi1 or lo2 <= node_us <= hi2) and (before_us is None or a.sent_us <= before_us):
                held.append(i)
        return tuple(held)

    def _offset_of(self, hits: tuple[int, ...]) -> Interval:
        found: list[Interval] = []
        for i in hits:
            _spans, ok, a, b = self._pairs[i]
            if not ok:
                return UNKNOWN
            whole = b.received_us - a.sent_us  # the longest the stretch can have lasted, on the office's clock
            found.append(hull(widen(a.offset, whole, self.drift), widen(b.offset, whole, self.drift)))
        return hull(*found) if found else UNKNOWN

    def stretch_of(self, node_us: int, before_us: int | None = None) -> int | None:
        """The one steady stretch that may hold a reading (its index), None: none, more than one, or
        an unsteady one may hold it."""
        held = self._held_by(node_us, before_us)
        return held[0] if len(held) == 1 and self._pairs[held[0]][1] else None

    def elapsed(self, first_us: int, then_us: int, first_before: int | None = None,
                then_before: int | None = None) -> Interval:
        """The true time from the box's reading ``first_us`` to its reading ``then_us`` when one steady
        stretch holds both (issue 86 item 3, design/0366): in one boot its wall clock ran as its
        monotonic clock did, so their difference is the readings' difference within the drift over
        it, once, and the bars of the stretch's two samples (a step within them may hide there).
        UNKNOWN when no single steady stretch holds both: then each reading's offset is all there is."""
        got = self.elapsed_us(first_us, then_us, first_before, then_before)
        if got is None:
            return UNKNOWN
        a, b = self._pairs[got[2]][2:]
        why = f"{ELAPSED}, time requests of {a.sent_us} and {b.sent_us}"
        return Interval(Bound(got[0], why), Bound(got[1], why))

    def elapsed_us(self, first_us: int, then_us: int, first_before: int | None = None,
                   then_before: int | None = None) -> tuple[int, int, int] | None:
        """`elapsed`'s bounds (us) and its stretch, without the words of its evidence; None: UNKNOWN."""
        i = self.stretch_of(first_us, first_before)
        if i is None or i != self.stretch_of(then_us, then_before):
            return None
        _spans, _ok, a, b = self._pairs[i]
        d = then_us - first_us
        slack = _drift(d, self.drift) + (a.received_us - a.sent_us) + (b.received_us - b.sent_us)
        return d - slack, d + slack, i

    def on_office(self, node_us: int, evidence: str, before_us: int | None = None) -> Interval:
        """A reading of the box's clock as an instant on the office's clock (UNKNOWN without an
        offset), at or before `before_us` when that is known (a message told of it then)."""
        offset = self.offset_at(node_us, before_us)
        return on_reference(node_us, offset, evidence) if offset.proven else UNKNOWN
