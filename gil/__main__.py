from gil.cli import main

raise SystemExit(main())
