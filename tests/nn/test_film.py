import torch

from sctl.nn._film import FiLM, ResidualBlock


def test_film_starts_near_identity_and_conditions():
    torch.manual_seed(0)
    film = FiLM(n_condition=4, n_features=6)
    torch.nn.init.zeros_(film.net.weight)
    torch.nn.init.zeros_(film.net.bias)
    h = torch.randn(3, 6)
    torch.testing.assert_close(film(h, torch.randn(3, 4)), h)  # gamma = 1, beta = 0
    with torch.no_grad():
        film.net.bias[:6] = 1.0  # gamma = 2
        film.net.bias[6:] = 0.5  # beta = 0.5
    torch.testing.assert_close(film(h, torch.zeros(3, 4)), 2 * h + 0.5)


def test_film_hidden_and_residual_shapes():
    assert FiLM(4, 8, n_hidden=16)(torch.zeros(2, 8), torch.zeros(2, 4)).shape == (2, 8)
    block = ResidualBlock(8)
    h = torch.randn(5, 8)
    assert block(h).shape == (5, 8)
    for layer in block.net:
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.zeros_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
    torch.testing.assert_close(block(h), torch.relu(h))  # skip connection only
