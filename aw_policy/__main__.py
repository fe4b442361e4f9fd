from aw_policy.entry import main

main()
