"""Evidence export (R5.5, R6; design/0068): a copy grant's footage as signed clips.

- evidence.py: the export folder: clips, manifest and the node's signature.
- checking.py: an export folder checked, every problem named (`edgectl verify`, the desk).
- receipt.py: the office's receipt kept beside an export (design/0318).
- origin.py: who made an export, as far as the root a verifier trusts says (design/0097).
- plan.py: what an export takes (which segments, which holes: pure) and each source checked
  against its recorded SHA-256.
- copy.py: the fragment copy (movie fragments copied at the byte level, design/0051).
- remux.py: the remux with PyAV, where the fragment copy does not apply.
- fmp4.py: fragmented MP4 read and written at the byte level, for copy.py.
- worker.py: the media part in a worker process (`python -m storage.export.worker`).
- c2pa_profile.py: what a node certificate must carry to sign C2PA manifests (pure, for the CA too).
- c2pa_claim.py: what a clip's C2PA manifest says, and whether an export gets one (pure).
- c2pa_sign.py: the C2PA manifest embedded in each clip with the C2PA SDK (in the worker).

Reads the catalog's segment rows and writes nothing to the catalog (the register of exports is
storage/people/retrieval_store.py's). Must not import storage/retention/ (retention does not know about
exports; the daemon keeps an export's footage from it), nor anything above storage/
(tests/test_layers.py).
"""
