"""Share links: signed-out TV boards, badges and tile images of chosen KPIs (DESIGN §12)."""
