from workloads.runtime.colorapp.app import main

raise SystemExit(main())
