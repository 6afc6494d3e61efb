from tests.hostile import bounds


def test_without_an_attack_every_bound_holds(stack):
    with bounds.held(stack, "no attack") as attack:
        attack.keep(3)
