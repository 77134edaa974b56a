// placeholder: written in the next commits
namespace popstream {}
