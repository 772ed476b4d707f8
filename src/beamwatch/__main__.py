from beamwatch.cli import main

raise SystemExit(main())
