from puppet.cli import main

raise SystemExit(main())
