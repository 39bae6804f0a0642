from edged_evidence_check.check import main

raise SystemExit(main())
