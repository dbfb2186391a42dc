from sketchlab.cli import main

main()
