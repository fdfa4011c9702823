import sys

from konektor_capi_cli.main import main

sys.exit(main())
