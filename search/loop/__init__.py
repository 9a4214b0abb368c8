"""The search loop: propose, screen, admit, train rung by rung, tell."""
