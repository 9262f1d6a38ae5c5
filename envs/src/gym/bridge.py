# The Python half of sparse-rl's Gymnasium bridge, run inside the interpreter the binary embeds.
# It makes the env, describes its spaces in plain Python values and hands observations back as flat
# float32 arrays, which the Rust half reads through the buffer protocol.
import importlib
import os
import sys

# An env steps on one thread, and the training process owns the cores: numpy's BLAS must not start a
# thread per core that competes with it (set before numpy is first imported, which reads these).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# Whatever an environment prints goes to stderr: stdout belongs to the program (e.g. `eval`'s JSON).
sys.stdout = sys.stderr


def require(name):
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ImportError(
            f"{e}; the Python this program embeds ({sys.prefix}) needs the bridge's packages: "
            f"pip install -r requirements-gym.txt"
        ) from None


def describe_box(space):
    shape = tuple(int(d) for d in space.shape)
    np = require("numpy")
    low = np.broadcast_to(np.asarray(space.low, dtype=np.float64), shape).reshape(-1)
    high = np.broadcast_to(np.asarray(space.high, dtype=np.float64), shape).reshape(-1)
    return ("box", list(shape), low.tolist(), high.tolist())


class Bridged:
    def __init__(self, env_id):
        self.np = np = require("numpy")
        gym = require("gymnasium")
        self.version = gym.__version__
        try:
            self.env = gym.make(env_id)
        except Exception as e:  # NameNotFound, DependencyNotInstalled, the env's own constructor error
            raise RuntimeError(f"gymnasium.make failed: {type(e).__name__}: {e}") from None
        spaces = gym.spaces
        obs_space, act_space = self.env.observation_space, self.env.action_space
        if isinstance(obs_space, spaces.Box):
            self.observation = describe_box(obs_space)
            self.encode = lambda obs: np.ascontiguousarray(obs, dtype=np.float32).reshape(-1)
        elif isinstance(obs_space, spaces.Discrete):
            n, start = int(obs_space.n), int(obs_space.start)
            self.observation = ("box", [n], [0.0] * n, [1.0] * n)

            def one_hot(obs):
                out = np.zeros(n, dtype=np.float32)
                out[int(obs) - start] = 1.0
                return out

            self.encode = one_hot
        else:
            raise TypeError(
                f"observation space {obs_space} is not supported (Box or Discrete; wrap the env in "
                "gymnasium.wrappers.FlattenObservation and register the wrapped env)"
            )
        if isinstance(act_space, spaces.Discrete):
            self.action = ("discrete", [int(act_space.n)], [], [])
            start = int(act_space.start)
            self.decode = lambda a: a + start
        elif isinstance(act_space, spaces.Box) and len(act_space.shape) == 1:
            self.action = describe_box(act_space)
            dtype = act_space.dtype
            self.decode = lambda a: np.asarray(a, dtype=dtype)
        else:
            raise TypeError(f"action space {act_space} is not supported (Discrete, or a one-dimensional Box)")
        spec = self.env.spec
        self.max_episode_steps = (spec.max_episode_steps if spec is not None else None) or 0

    def reset(self, seed):
        obs, _ = self.env.reset(seed=seed)
        return self.encode(obs)

    def step(self, action):
        obs, reward, terminated, truncated, _ = self.env.step(self.decode(action))
        return self.encode(obs), float(reward), bool(terminated), bool(truncated)

    def classic_state(self):
        """`unwrapped.state` of a classic-control env, None for others."""
        unwrapped = self.env.unwrapped
        if not hasattr(unwrapped, "state"):
            return None
        if unwrapped.state is None:
            raise ValueError("the env has no state before reset(): call reset() first")
        return unwrapped.state

    def get_state(self):
        unwrapped = self.env.unwrapped
        state = self.classic_state()
        if state is not None:
            return [float(x) for x in self.np.asarray(state, dtype=self.np.float64).reshape(-1)]
        data = getattr(unwrapped, "data", None)
        if data is not None and hasattr(data, "qpos"):
            return data.qpos.tolist() + data.qvel.tolist()
        raise ValueError("this env exposes no state (neither `unwrapped.state` nor MuJoCo's qpos and qvel)")

    def set_state(self, values):
        np, unwrapped = self.np, self.env.unwrapped
        values = np.asarray(values, dtype=np.float64)
        state = self.classic_state()
        if state is not None:
            if values.size != np.size(state):
                raise ValueError(f"the state has {np.size(state)} values, got {values.size}")
            unwrapped.state = values.reshape(np.shape(state)).copy()
            return
        data = getattr(unwrapped, "data", None)
        if data is not None and hasattr(data, "qpos"):
            nq, nv = data.qpos.size, data.qvel.size
            if values.size != nq + nv:
                raise ValueError(f"the state has {nq + nv} values (qpos, qvel), got {values.size}")
            unwrapped.set_state(values[:nq], values[nq:])
            return
        raise ValueError("this env exposes no state (neither `unwrapped.state` nor MuJoCo's qpos and qvel)")

    def close(self):
        self.env.close()
