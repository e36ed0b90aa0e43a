from workloads.colorapp.app import main

raise SystemExit(main())
