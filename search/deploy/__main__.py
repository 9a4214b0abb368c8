import sys

from search.deploy.predict import main

sys.exit(main())
