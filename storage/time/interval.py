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
"""

from __future__ import annotations

from dataclasses import dataclass

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
    return -(-abs(elapsed_us) * drift_ppm // 1_000_000)  # rounded away from the bound's favour


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
