"""The MuJoCo behaviour-cloning data (paper §4, App. A.1): environments (`envs`), expert
policies (`experts`) and their training (`training`), collection into Minari datasets
(`collect`), readers of the original D4RL/JAT/Minari files (`readers`) and the regression view
that `nrc.data.load` serves (`dataset`)."""
